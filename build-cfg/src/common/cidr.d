build-cfg/src/common/cidr.o: src/common/cidr.c src/common/cidr.h \
 src/common/util.h
src/common/cidr.h:
src/common/util.h:
