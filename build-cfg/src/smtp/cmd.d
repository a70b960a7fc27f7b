build-cfg/src/smtp/cmd.o: src/smtp/cmd.c src/common/config.h \
 src/common/log.h src/common/util.h src/policy/restrict.h \
 src/queue/resolve.h src/smtp/smtpd.h src/common/buf.h src/common/loop.h \
 src/queue/spool.h
src/common/config.h:
src/common/log.h:
src/common/util.h:
src/policy/restrict.h:
src/queue/resolve.h:
src/smtp/smtpd.h:
src/common/buf.h:
src/common/loop.h:
src/queue/spool.h:
