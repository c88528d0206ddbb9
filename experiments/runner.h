/* experiments/runner.h — what an experiment runs at each point of its sweep.
 *
 * A runner declares its parameters (name, type, default, allowed words) and
 * prepares a measurable case for one point: the closure to time, its cost
 * (FLOPs, bytes), and its labels.  prepare() must verify any fast path against
 * its plain reference before returning: a case that disagrees is an error,
 * never a timing.  The run stage (pipeline/run.c) owns the loop, the timing and
 * the database; runners never touch either.
 *
 * Adding a runner: write experiments/runner_NAME.c with a `const exp_runner`
 * and list it in exp_runners[] in experiments/runners.c. */
#ifndef CTXBENCH_EXPERIMENTS_RUNNER_H
#define CTXBENCH_EXPERIMENTS_RUNNER_H

#include <stddef.h>
#include <stdint.h>

#include "platforms/measure.h"
#include "platforms/pool.h"
#include "platforms/topo.h"
#include "util/error.h"

#define EXP_MAX_PARAMS 16

typedef enum exp_type { EXP_INT, EXP_WORD } exp_type;

typedef struct exp_param {
    const char *name;
    exp_type type;
    const char *def;               /* default value list, used when the sweep omits the key */
    const char *const *allowed;    /* EXP_WORD: NULL-terminated list of allowed words */
    const char *const *(*allowed_fn)(void); /* EXP_WORD: the list, when only known at run time */
    int64_t min, max;              /* EXP_INT: inclusive bounds */
    const char *help;
} exp_param;

/* One point of a sweep: a value per runner parameter, in the runner's order. */
typedef struct exp_point {
    int n;
    int64_t ival[EXP_MAX_PARAMS];       /* EXP_INT values */
    const char *sval[EXP_MAX_PARAMS];   /* EXP_WORD values (point into the runner's allowed list) */
    char params_json[512];              /* canonical JSON: sorted keys, compact */
    char params_hash[CB_SHA256_HEX_LEN];
} exp_point;

/* What the run stage gives a runner. */
typedef struct exp_env {
    plat_topo *topo;
    const plat_info *platform;
    pool *pool;
} exp_env;

/* What a case reports besides its timing, stored with its measurement. */
#define EXP_MAX_EXTRAS 32

typedef struct exp_breakdown_item {
    const char *op_class;  /* e.g. "gemm", "ssm_scan" (static) */
    double seconds;        /* per repetition */
} exp_breakdown_item;

typedef struct exp_metric_item {
    const char *name;      /* e.g. "mem_kv_cache_bytes" (static) */
    double value;
    const char *unit;      /* e.g. "bytes", "tok/s" (static) */
} exp_metric_item;

typedef struct exp_extras {
    int n_breakdown;
    exp_breakdown_item breakdown[EXP_MAX_EXTRAS];
    int n_metrics;
    exp_metric_item metrics[EXP_MAX_EXTRAS];
} exp_extras;

/* A prepared, verified case: ready to time. */
typedef struct exp_case {
    const char *subject;       /* operator or model, e.g. "gemm" (static) */
    const char *impl;          /* implementation, e.g. "builtin" (static) */
    const char *phase;         /* "prefill", "decode" or "step" (static) */
    int threads;
    meas_fn fn;                /* one repetition */
    void *ctx;                 /* owned by the case; freed by cleanup */
    void (*cleanup)(void *ctx);
    double flops, bytes, state_bytes; /* per repetition; < 0 when not applicable */
    const char *probe_kind;    /* non-NULL: the case is a roofline probe, e.g. "triad_gbps" */
    /* Optional: called once after the timed loop with the measured result
     * (before cleanup) to fill what the case reports besides time: a
     * per-op-class breakdown per repetition and named metrics (memory
     * split, throughput).  Returns 0, or -1 with err (the point fails). */
    int (*extras)(void *ctx, const meas_result *res, exp_extras *out, cb_err *err);
} exp_case;

typedef struct exp_runner exp_runner;

struct exp_runner {
    const char *name;
    const char *description;
    const exp_param *params;
    int n_params;
    /* Builds and verifies the case for one point.  Returns 0, or -1 with err
     * (nothing to clean up then). */
    int (*prepare)(const exp_env *env, const exp_point *point, exp_case *out, cb_err *err);
    /* Optional: 0 when parameter `param` does not matter at this point (e.g.
     * d_state for attention); the sweep then leaves it out of the point's
     * identity and drops the duplicates it would make.  NULL: all matter. */
    int (*param_used)(const exp_runner *self, const exp_point *point, int param);
    /* Optional: 0 when the point cannot be run by design (e.g. an operator
     * refusing a shape), with the reason in why; the sweep drops it and says
     * so.  NULL: every point applies. */
    int (*applicable)(const exp_runner *self, const exp_point *point, char *why, size_t cap);
};

/* The runner with this name, or NULL. */
const exp_runner *exp_runner_find(const char *name);

/* The names of all runners, NULL-terminated (static). */
const exp_runner *const *exp_runner_all(void);

/* The value of a point's parameter by name (the runner's own names only). */
int64_t exp_point_int(const exp_runner *r, const exp_point *p, const char *name);
const char *exp_point_word(const exp_runner *r, const exp_point *p, const char *name);

#endif
