build-cfg/src/common/util.o: src/common/util.c src/common/log.h \
 src/common/util.h
src/common/log.h:
src/common/util.h:
