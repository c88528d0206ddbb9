/* experiments/runner_operators.c — the "operators" runner (seed 000): any
 * registry operator (operators/op.h) at a context length, at the dimensions of
 * an edge model class, on the first N cores.  Each case is built by the
 * operator's create(), run once through the pool and checked by its verify()
 * against the plain reference before it is timed.
 *
 * Dimension classes (`dims`):
 *   130m  d_model 768, 12 heads of 64 (12 KV heads), d_inner 1536
 *         (the mamba-130m class; Mamba-2 heads: 24 of 64)
 *   1b    d_model 2048, 32 query / 8 KV heads of 64, d_inner 4096
 *         (the Llama-3.2-1B class; Mamba-2 heads: 64 of 64)
 * d_state and chunk matter only to the operators that use them; for the
 * others they are left out of the point (so the sweep holds no duplicates). */
#include <stdlib.h>
#include <string.h>

#include "experiments/runner.h"
#include "operators/op.h"

static const char *const opr_dims[] = {"130m", "1b", NULL};

/* The registry's names, for the `operator` parameter. */
static const char *const *opr_operator_names(void)
{
    static const char *names[129];
    if (!names[0]) {
        const op_entry *const *all = op_all();
        for (int i = 0; all[i] && i < 128; i++)
            names[i] = all[i]->name;
    }
    return names;
}

enum { OPR_OPERATOR, OPR_DIMS, OPR_CONTEXT, OPR_D_STATE, OPR_CHUNK, OPR_THREADS };

static const exp_param opr_params[] = {
    [OPR_OPERATOR] = {.name = "operator", .type = EXP_WORD, .def = "attention.flash",
                      .allowed_fn = opr_operator_names, .help = "registry name, e.g. attention.flash"},
    [OPR_DIMS] = {.name = "dims", .type = EXP_WORD, .def = "130m", .allowed = opr_dims,
                  .help = "model dimension class: 130m or 1b"},
    [OPR_CONTEXT] = {.name = "context", .type = EXP_INT, .def = "1024", .min = 1, .max = 1 << 22,
                     .help = "L: prefill length, or the context a decode step attends over"},
    [OPR_D_STATE] = {.name = "d_state", .type = EXP_INT, .def = "16", .min = 1, .max = 1024,
                     .help = "SSM state size N (SSM operators only)"},
    [OPR_CHUNK] = {.name = "chunk", .type = EXP_INT, .def = "0", .min = 0, .max = 1 << 20,
                   .help = "chunk length of chunked forms; 0 = the operator's default"},
    [OPR_THREADS] = {.name = "threads", .type = EXP_INT, .def = "1", .min = 1, .max = 4096,
                     .help = "worker threads (first N cores)"},
};

static const op_entry *opr_entry(const exp_point *pt)
{
    return op_find(pt->sval[OPR_OPERATOR]);
}

/* The operator's shape at this point. */
static op_dims opr_dims_of(const op_entry *e, const exp_point *pt)
{
    int big = strcmp(pt->sval[OPR_DIMS], "1b") == 0;
    op_dims d = {
        .seq_len = pt->ival[OPR_CONTEXT],
        .n_heads = big ? 32 : 12,
        .n_kv_heads = big ? 8 : 12,
        .head_dim = 64,
        .d_model = big ? 2048 : 768,
        .d_inner = big ? 4096 : 1536,
        .d_state = (int)pt->ival[OPR_D_STATE],
        .chunk = (int)pt->ival[OPR_CHUNK],
    };
    if (strcmp(e->op, "mamba2_ssd") == 0)
        d.n_heads = d.d_inner / d.head_dim;
    if (strcmp(e->op, "attention") != 0)
        d.n_kv_heads = d.n_heads; /* grouped KV heads are an attention feature */
    return d;
}

/* 1 if the entry's `uses` list names the field (a whole word). */
static int opr_uses(const op_entry *e, const char *field)
{
    size_t n = strlen(field);
    for (const char *p = strstr(e->uses, field); p; p = strstr(p + 1, field))
        if ((p == e->uses || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
            return 1;
    return 0;
}

static int opr_param_used(const exp_runner *self, const exp_point *pt, int param)
{
    const op_entry *e = opr_entry(pt);
    switch (param) {
    case OPR_CONTEXT: return opr_uses(e, "seq_len");
    case OPR_D_STATE: return opr_uses(e, "d_state");
    case OPR_CHUNK: return opr_uses(e, "chunk");
    default: return 1;
    }
}

static int opr_applicable(const exp_runner *self, const exp_point *pt, char *why, size_t cap)
{
    const op_entry *e = opr_entry(pt);
    op_dims d = opr_dims_of(e, pt);
    cb_err err = {{0}};
    if (e->check(&d, &err) == 0)
        return 1;
    snprintf(why, cap, "%s", err.msg);
    return 0;
}

typedef struct opr_case {
    const op_entry *entry;
    void *inst;
    pool *pool;
    pool_part part;
} opr_case;

static void opr_free(void *ctx)
{
    opr_case *c = ctx;
    if (!c)
        return;
    c->entry->destroy(c->inst);
    free(c);
}

static void opr_worker(void *ctx, int worker, int n_workers)
{
    opr_case *c = ctx;
    c->entry->run(c->inst, worker, n_workers);
}

static int opr_rep(void *ctx, cb_err *err)
{
    opr_case *c = ctx;
    return pool_run(c->pool, &c->part, opr_worker, c, err);
}

static int opr_prepare(const exp_env *env, const exp_point *pt, exp_case *out, cb_err *err)
{
    const op_entry *e = opr_entry(pt);
    op_dims d = opr_dims_of(e, pt);
    int threads = (int)pt->ival[OPR_THREADS];
    opr_case *c = calloc(1, sizeof *c);
    if (!c)
        return cb_fail(err, "out of memory");
    c->entry = e;
    c->pool = env->pool;
    if (e->check(&d, err) != 0 || pool_part_first(env->pool, threads, &c->part, err) != 0 ||
        e->create(&d, 1, threads, &c->inst, err) != 0 || opr_rep(c, err) != 0 ||
        e->verify(c->inst, err) != 0) {
        opr_free(c);
        return cb_wrap(err, "%s", e->name);
    }
    op_cost cost = e->cost(&d);
    *out = (exp_case){
        .subject = e->op, .impl = e->impl, .phase = e->phase, .threads = threads,
        .fn = opr_rep, .ctx = c, .cleanup = opr_free,
        .flops = cost.flops, .bytes = cost.bytes, .state_bytes = cost.state_bytes,
    };
    return 0;
}

const exp_runner exp_runner_operators = {
    .name = "operators",
    .description = "registry operators at edge-model dimensions, verified against their references",
    .params = opr_params,
    .n_params = sizeof opr_params / sizeof opr_params[0],
    .prepare = opr_prepare,
    .param_used = opr_param_used,
    .applicable = opr_applicable,
};
