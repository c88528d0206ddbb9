# tests/: every tests/test_*.c is one cmocka test program linked against the
# library; `make test` runs them all through scripts/run-tests.sh.
TEST_SRCS += $(wildcard tests/test_*.c)
include tests/fuzz/fuzz.mk

# tests/support/*.c: code shared by the test programs (prefix tsup_), not
# programs themselves; the GNUmakefile links it into every test program.
TEST_SUPPORT_SRCS := $(wildcard tests/support/*.c)
