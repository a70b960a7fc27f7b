build-cfg/src/master/listen.o: src/master/listen.c src/common/log.h \
 src/common/util.h src/master/listen.h
src/common/log.h:
src/common/util.h:
src/master/listen.h:
