/* tests/support/op_check.c — the generator, float buffers and refused-shape
 * check the operator tests share (see op_check.h).  Never: touch an entry's
 * instance beyond create's answer. */
#include "tests/support/op_check.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

double tsup_rnd_unit(uint64_t *state)
{
    *state = *state * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(*state >> 40) / (double)(1ull << 24);
}

float tsup_rnd(uint64_t *state) { return (float)(tsup_rnd_unit(state) * 2.0 - 1.0); }

float *tsup_floats(size_t n)
{
    float *p = aligned_alloc(64, ((n ? n : 1) * sizeof(float) + 63) & ~(size_t)63);
    assert_non_null(p);
    return p;
}

float *tsup_nans(size_t n)
{
    float *p = tsup_floats(n);
    for (size_t i = 0; i < n; i++)
        p[i] = NAN;
    return p;
}

float *tsup_zeros(size_t n)
{
    float *p = tsup_floats(n);
    memset(p, 0, (n ? n : 1) * sizeof(float));
    return p;
}

float *tsup_rnd_floats(uint64_t *state, size_t n, float scale)
{
    float *p = tsup_floats(n);
    for (size_t i = 0; i < n; i++)
        p[i] = tsup_rnd(state) * scale;
    return p;
}

void tsup_expect_refused(const op_entry *e, op_dims d, const char *field)
{
    cb_err err;
    err.msg[0] = 0;
    if (e->check(&d, &err) != -1)
        fail_msg("%s: check accepted a bad %s", e->name, field);
    if (!strstr(err.msg, field))
        fail_msg("%s: error \"%s\" does not name %s", e->name, err.msg, field);
    void *inst = (void *)1;
    assert_int_equal(e->create(&d, 1, 1, &inst, &err), -1);
    assert_null(inst);
}
