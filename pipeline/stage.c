/* pipeline/stage.c — the machine a stage runs on, and one point from runner to
 * database (see stage.h). */
#include "pipeline/stage.h"

#include <stdlib.h>
#include <string.h>

int stage_machine_open(stage_machine *m, const char *xml_path, int with_pool, cb_err *err)
{
    memset(m, 0, sizeof *m);
    if (plat_topo_open(xml_path, &m->topo, err) != 0 || plat_describe(m->topo, &m->info, err) != 0)
        return -1;
    if (with_pool && pool_create(m->topo, &m->pool, err) != 0)
        return -1;
    return 0;
}

int stage_machine_attach(stage_machine *m, const char *db_path, cb_err *err)
{
    if (!m->pool && pool_create(m->topo, &m->pool, err) != 0)
        return -1;
    char *xml = plat_topo_xml(m->topo, err);
    if (!xml)
        return -1;
    int rc = store_open(db_path, &m->store, err);
    if (rc == 0)
        rc = store_platform_put(m->store, &m->info, xml, &m->platform_id, err);
    free(xml);
    return rc;
}

void stage_machine_close(stage_machine *m)
{
    pool_release_caller(); /* pool_run leaves the calling thread bound to a core */
    store_close(m->store);
    pool_free(m->pool);
    plat_topo_free(m->topo);
    memset(m, 0, sizeof *m);
}

/* The case's closure, failing as soon as the run is interrupted. */
typedef struct stage_guard {
    meas_fn fn;
    void *ctx;
} stage_guard;

static int stage_guarded_rep(void *ctx, cb_err *err)
{
    stage_guard *g = ctx;
    if (stage_interrupted())
        return cb_fail(err, "interrupted");
    return g->fn(g->ctx, err);
}

/* Stores what the case reports besides its timing (exp_case.extras). */
static int stage_store_extras(stage_machine *m, const exp_case *c, const meas_result *res,
                              int64_t run_id, int64_t measurement_id, cb_err *err)
{
    exp_extras x = {0};
    if (c->extras(c->ctx, res, &x, err) != 0)
        return -1;
    for (int i = 0; i < x.n_breakdown && i < EXP_MAX_EXTRAS; i++)
        if (store_breakdown_put(m->store, measurement_id, x.breakdown[i].op_class,
                                x.breakdown[i].seconds, err) != 0)
            return -1;
    for (int i = 0; i < x.n_metrics && i < EXP_MAX_EXTRAS; i++)
        if (store_metric_put(m->store, run_id, measurement_id, x.metrics[i].name,
                             x.metrics[i].value, x.metrics[i].unit, 0, err) != 0)
            return -1;
    return 0;
}

static int stage_store_case(stage_machine *m, const exp_point *point, const exp_case *c,
                            const meas_result *res, int64_t run_id, cb_err *err)
{
    store_measurement sm = {
        .subject = c->subject, .impl = c->impl, .phase = c->phase,
        .params_json = point->params_json, .params_hash = point->params_hash,
        .threads = c->threads, .result = res,
        .flops = c->flops, .bytes = c->bytes, .state_bytes = c->state_bytes,
    };
    int64_t measurement_id;
    if (store_measurement_put(m->store, run_id, &sm, &measurement_id, err) != 0)
        return -1;
    if (c->extras && stage_store_extras(m, c, res, run_id, measurement_id, err) != 0)
        return -1;
    if (!c->probe_kind)
        return 0;
    double work = strcmp(c->probe_kind, "triad_gbps") == 0 ? c->bytes : c->flops;
    return store_probe_put(m->store, m->platform_id, c->probe_kind, c->threads,
                           work / res->stats.median / 1e9, err);
}

int stage_measure_point(stage_machine *m, const exp_runner *runner, const exp_point *point,
                        const meas_opts *opts, int64_t run_id, cb_err *err)
{
    exp_env env = {.topo = m->topo, .platform = &m->info, .pool = m->pool};
    exp_case c = {0};
    if (runner->prepare(&env, point, &c, err) != 0)
        return -1;
    stage_guard guard = {.fn = c.fn, .ctx = c.ctx};
    /* Count the pool's workers too: they existed before the measurement, so
     * perf would not inherit them, and they do the work of shares 1..n-1. */
    int tids[MEAS_MAX_EXTRA_TIDS];
    meas_opts counted = *opts;
    counted.extra_tids = tids;
    counted.n_extra_tids = pool_thread_ids(m->pool, tids, MEAS_MAX_EXTRA_TIDS);
    meas_result res = {0};
    int rc = meas_run(&counted, stage_guarded_rep, &guard, &res, err);
    if (rc == 0)
        rc = stage_store_case(m, point, &c, &res, run_id, err);
    meas_result_free(&res);
    if (c.cleanup)
        c.cleanup(c.ctx);
    return rc;
}
