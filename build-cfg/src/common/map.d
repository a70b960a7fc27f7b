build-cfg/src/common/map.o: src/common/map.c src/common/buf.h \
 src/common/config.h src/common/map.h src/common/util.h
src/common/buf.h:
src/common/config.h:
src/common/map.h:
src/common/util.h:
