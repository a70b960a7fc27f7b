build-cfg/src/policy/restrict.o: src/policy/restrict.c \
 src/common/config.h src/common/util.h src/policy/restrict.h
src/common/config.h:
src/common/util.h:
src/policy/restrict.h:
