# tests/: every tests/test_*.c is one cmocka test program linked against the
# library; `make test` runs them all through scripts/run-tests.sh.
TEST_SRCS += $(wildcard tests/test_*.c)

# tests/support/*.c: code shared by test programs (prefix tsup_), not programs
# themselves; every test program links all of them.
TEST_SUPPORT_SRCS := $(wildcard tests/support/*.c)
TEST_SUPPORT_OBJS := $(TEST_SUPPORT_SRCS:%.c=$(BUILD)/%.o)
$(TEST_SRCS:%.c=$(BUILD)/%): $(TEST_SUPPORT_OBJS)
-include $(TEST_SUPPORT_OBJS:.o=.d)
