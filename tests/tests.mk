# tests/: every tests/test_*.c is one cmocka test program linked against the
# library; `make test` runs them all through scripts/run-tests.sh.
TEST_SRCS += $(wildcard tests/test_*.c)
