/* experiments/runner_roofline.c — the "roofline" runner: the platform probes
 * (STREAM triad bandwidth, peak fp32 FMA throughput) as sweep points, so that
 * they are timed, stored and reported like any other measurement.  Each case
 * is a probe case: the run stage also records its figure with the platform. */
#include <stdlib.h>
#include <string.h>

#include "experiments/runner.h"
#include "platforms/probe.h"

static const char *const roofline_probes[] = {"triad", "fma", NULL};

static const exp_param roofline_params[] = {
    {.name = "probe", .type = EXP_WORD, .def = "triad, fma", .allowed = roofline_probes,
     .help = "which probe: triad or fma"},
    {.name = "threads", .type = EXP_INT, .def = "1..ncores", .min = 1, .max = 4096,
     .help = "worker threads (first N cores)"},
};

static void roofline_free_triad(void *ctx)
{
    probe_triad_free(ctx);
}

static void roofline_free_fma(void *ctx)
{
    probe_fma_free(ctx);
}

static int roofline_prepare(const exp_env *env, const exp_point *pt, exp_case *out, cb_err *err)
{
    const exp_runner *self = exp_runner_find("roofline");
    int threads = (int)exp_point_int(self, pt, "threads");
    pool_part part;
    if (pool_part_first(env->pool, threads, &part, err) != 0)
        return -1;
    out->impl = probe_isa_name();
    out->phase = "step";
    out->threads = threads;
    out->state_bytes = -1;
    if (strcmp(exp_point_word(self, pt, "probe"), "triad") == 0) {
        probe_triad *t;
        if (probe_triad_create(env->pool, &part, 0, &t, err) != 0)
            return -1;
        out->subject = "triad";
        out->fn = probe_triad_step;
        out->ctx = t;
        out->cleanup = roofline_free_triad;
        out->flops = 2.0 * (double)probe_triad_elements(t);
        out->bytes = probe_triad_bytes(t);
        out->probe_kind = "triad_gbps";
        return 0;
    }
    probe_fma *f;
    if (probe_fma_create(env->pool, &part, 0, &f, err) != 0)
        return -1;
    out->subject = "fma";
    out->fn = probe_fma_step;
    out->ctx = f;
    out->cleanup = roofline_free_fma;
    out->flops = probe_fma_flops(f);
    out->bytes = -1;
    out->probe_kind = "fma_gflops";
    return 0;
}

const exp_runner exp_runner_roofline = {
    .name = "roofline",
    .description = "STREAM triad bandwidth and peak fp32 FMA throughput on the first N cores",
    .params = roofline_params,
    .n_params = sizeof roofline_params / sizeof roofline_params[0],
    .prepare = roofline_prepare,
};
