build-cfg/src/common/config.o: src/common/config.c src/common/buf.h \
 src/common/config.h src/common/log.h src/common/map.h src/common/util.h
src/common/buf.h:
src/common/config.h:
src/common/log.h:
src/common/map.h:
src/common/util.h:
