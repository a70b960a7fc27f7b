build-cfg/src/queue/spool.o: src/queue/spool.c src/common/buf.h \
 src/common/util.h src/queue/spool.h
src/common/buf.h:
src/common/util.h:
src/queue/spool.h:
