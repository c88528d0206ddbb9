# reports/: every .c file here is part of the library (libctxbench.a).
LIB_SRCS += $(wildcard reports/*.c)
