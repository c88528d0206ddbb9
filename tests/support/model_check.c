/* tests/support/model_check.c — helpers the model tests share (see model_check.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "tests/support/model_check.h"

void tsup_part_first(tsup_live *l, int n, pool_part *part)
{
    cb_err err = {{0}};
    int size = pool_size(l->p);
    if (n > size)
        n = size;
    if (pool_part_first(l->p, n, part, &err) != 0)
        fail_msg("pool_part_first: %s", err.msg);
}

void tsup_tokens(int *t, int n, int vocab, uint64_t salt)
{
    uint64_t s = 0x9e3779b97f4a7c15ull ^ salt;
    for (int i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        t[i] = (int)((s >> 33) % (uint64_t)vocab);
    }
}

double tsup_check_logits(const char *what, const float *a, const float *b, int n, double tol)
{
    double mx = 0, worst = 0;
    for (int i = 0; i < n; i++)
        mx = fmax(mx, fabs(b[i]));
    for (int i = 0; i < n; i++) {
        double diff = fabs((double)a[i] - b[i]);
        if (!(diff <= tol * (mx + 1e-3)))
            fail_msg("%s: logit %d is %.9g, expected %.9g (diff %.3g, scale %.3g)", what, i, a[i],
                     b[i], diff, mx);
        worst = fmax(worst, diff / (mx + 1e-3));
    }
    return worst;
}

void tsup_expect_config_refused(model_config c, const char *field)
{
    cb_err err = {{0}};
    assert_int_equal(model_config_check(&c, &err), -1);
    if (!strstr(err.msg, field))
        fail_msg("refusal of %s does not name it: %s", field, err.msg);
}
