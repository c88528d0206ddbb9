/* operators/op.c — the operator registry and the helpers every entry shares
 * (see op.h).  Each family of operators exports a NULL-terminated list of its
 * entries, op_family_<name>[]; the registry is their concatenation. */
#include "operators/op.h"

#include <stdint.h>
#include <string.h>

/* The families, in the order reports list them. */
extern const op_entry *const op_family_attention[];
extern const op_entry *const op_family_linear[];
extern const op_entry *const op_family_fourier[];
extern const op_entry *const op_family_mamba1[];
extern const op_entry *const op_family_mamba2[];
extern const op_entry *const op_family_dense[];
extern const op_entry *const op_family_lowp[]; /* 16-bit weight GEMV, family "dense" */
extern const op_entry *const op_family_quant[]; /* quantised-weight GEMV, family "dense" */
extern const op_entry *const op_family_elementwise[];

#define OP_MAX_ENTRIES 128

static const op_entry *const *const op_families[] = {
    op_family_attention, op_family_linear, op_family_fourier, op_family_mamba1,
    op_family_mamba2,    op_family_dense,  op_family_lowp, op_family_quant, op_family_elementwise,
};

static const op_entry *op_registry[OP_MAX_ENTRIES + 1];

/* Fills op_registry on first use (entries are static; the list never changes). */
static void op_registry_build(void)
{
    if (op_registry[0])
        return;
    int n = 0;
    for (size_t f = 0; f < sizeof op_families / sizeof op_families[0]; f++)
        for (int i = 0; op_families[f][i] && n < OP_MAX_ENTRIES; i++)
            op_registry[n++] = op_families[f][i];
    op_registry[n] = NULL;
}

const op_entry *const *op_all(void)
{
    op_registry_build();
    return op_registry;
}

const op_entry *op_find(const char *name)
{
    const op_entry *const *all = op_all();
    for (int i = 0; all[i]; i++)
        if (strcmp(all[i]->name, name) == 0)
            return all[i];
    return NULL;
}

int op_lookup_checked(const char *name, const op_dims *d, const op_entry **out, cb_err *err)
{
    const op_entry *e = op_find(name);
    if (!e)
        return cb_fail(err, "unknown operator '%s'", name);
    if (e->check(d, err) != 0)
        return cb_wrap(err, "%s", name);
    *out = e;
    return 0;
}

int op_check_range(const char *field, int64_t value, int64_t max, cb_err *err)
{
    if (value < 1 || value > max)
        return cb_fail(err, "%s = %lld is out of range (1 to %lld)", field, (long long)value,
                       (long long)max);
    return 0;
}

int op_check_bytes(const char *what, size_t elem_bytes, int n_factors, const int64_t *factors,
                   cb_err *err)
{
    /* Keep every buffer well below the address space: 2^46 bytes (64 TiB). */
    const uint64_t limit = (uint64_t)1 << 46;
    uint64_t total = elem_bytes;
    for (int i = 0; i < n_factors; i++) {
        if (factors[i] < 0 || (factors[i] > 0 && total > limit / (uint64_t)factors[i]))
            return cb_fail(err, "%s would need more than 2^46 bytes", what);
        total *= (uint64_t)factors[i];
    }
    return 0;
}

void op_fill_uniform(float *x, size_t n, uint64_t seed, float lo, float hi)
{
    uint64_t s = seed * 0x9e3779b97f4a7c15ULL + 0x2545f4914f6cdd1dULL;
    for (size_t i = 0; i < n; i++) {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        double u = (double)((s * 0x2545f4914f6cdd1dULL) >> 11) / 9007199254740992.0;
        x[i] = lo + (float)u * (hi - lo);
    }
}
