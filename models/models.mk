# models/: model stacks and what feeds them (checkpoint readers, configs).
# Every models/*.c is part of the library.
LIB_SRCS += $(wildcard models/*.c)
