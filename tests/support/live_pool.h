/* tests/support/live_pool.h — a cmocka group fixture: the live machine's
 * topology and a thread pool on it, shared by every test of one program.
 *
 * Test support (tsup_*): linked into every test program, never into the
 * library or the ctxbench binary.  It asserts nothing and never skips: a
 * failed set-up is reported to cmocka, which then fails the group. */
#ifndef CTXBENCH_TESTS_SUPPORT_LIVE_POOL_H
#define CTXBENCH_TESTS_SUPPORT_LIVE_POOL_H

#include "platforms/pool.h"
#include "platforms/topo.h"

/* What the group's tests find in *state. */
typedef struct tsup_live {
    plat_topo *topo;
    pool *p;
} tsup_live;

/* Group set-up for cmocka_run_group_tests: opens the live topology and a pool
 * on it and points *state at a tsup_live in static storage (one group at a
 * time).  Returns 0, or -1 after printing why to stderr; on error nothing
 * stays open. */
int tsup_live_setup(void **state);

/* Group teardown: frees what tsup_live_setup opened.  Returns 0. */
int tsup_live_teardown(void **state);

#endif
