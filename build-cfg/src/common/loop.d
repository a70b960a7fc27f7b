build-cfg/src/common/loop.o: src/common/loop.c src/common/log.h \
 src/common/loop.h src/common/util.h
src/common/log.h:
src/common/loop.h:
src/common/util.h:
