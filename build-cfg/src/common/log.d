build-cfg/src/common/log.o: src/common/log.c src/common/log.h \
 src/common/util.h
src/common/log.h:
src/common/util.h:
