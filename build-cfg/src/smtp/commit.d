build-cfg/src/smtp/commit.o: src/smtp/commit.c src/common/log.h \
 src/common/msg.h src/common/buf.h src/common/util.h src/smtp/smtpd.h \
 src/common/loop.h src/queue/spool.h
src/common/log.h:
src/common/msg.h:
src/common/buf.h:
src/common/util.h:
src/smtp/smtpd.h:
src/common/loop.h:
src/queue/spool.h:
