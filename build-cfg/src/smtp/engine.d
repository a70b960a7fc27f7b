build-cfg/src/smtp/engine.o: src/smtp/engine.c src/common/cidr.h \
 src/common/config.h src/common/log.h src/common/util.h \
 src/policy/restrict.h src/queue/resolve.h src/smtp/engine.h \
 src/smtp/smtpd.h src/common/buf.h src/common/loop.h src/queue/spool.h
src/common/cidr.h:
src/common/config.h:
src/common/log.h:
src/common/util.h:
src/policy/restrict.h:
src/queue/resolve.h:
src/smtp/engine.h:
src/smtp/smtpd.h:
src/common/buf.h:
src/common/loop.h:
src/queue/spool.h:
