build-cfg/src/common/params.o: src/common/params.c src/common/config.h
src/common/config.h:
