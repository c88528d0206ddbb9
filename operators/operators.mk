# operators/: every .c file here is part of the library (libctxbench.a).
LIB_SRCS += $(wildcard operators/*.c)
