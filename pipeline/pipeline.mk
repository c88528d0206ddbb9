# pipeline/: the `ctxbench` command — main.c and one file per stage.
MAIN_SRCS += $(wildcard pipeline/*.c)
