build-cfg/src/smtp/session.o: src/smtp/session.c src/common/cidr.h \
 src/common/log.h src/common/util.h src/smtp/smtpd.h src/common/buf.h \
 src/common/loop.h src/queue/spool.h
src/common/cidr.h:
src/common/log.h:
src/common/util.h:
src/smtp/smtpd.h:
src/common/buf.h:
src/common/loop.h:
src/queue/spool.h:
