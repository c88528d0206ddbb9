/* tests/support/live_pool.c — the live topology + pool group fixture
 * (tests/support/live_pool.h).  No cmocka assertion here: set-up reports its
 * failure through its return value, as cmocka asks of a group set-up. */
#include <stdio.h>

#include "tests/support/live_pool.h"

int tsup_live_setup(void **state)
{
    static tsup_live l;
    cb_err err = {{0}};
    if (plat_topo_open(NULL, &l.topo, &err) != 0 || pool_create(l.topo, &l.p, &err) != 0) {
        fprintf(stderr, "setup: %s\n", err.msg);
        plat_topo_free(l.topo); /* NULL when the open failed */
        l.topo = NULL;
        return -1;
    }
    *state = &l;
    return 0;
}

int tsup_live_teardown(void **state)
{
    tsup_live *l = *state;
    pool_free(l->p);
    plat_topo_free(l->topo);
    return 0;
}
