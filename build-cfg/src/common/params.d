build-cfg/src/common/params.o: src/common/params.c src/common/cidr.h \
 src/common/config.h src/common/map.h src/common/util.h
src/common/cidr.h:
src/common/config.h:
src/common/map.h:
src/common/util.h:
