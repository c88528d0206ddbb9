/* pipeline/stage.h — what the run and platform stages share: the machine they
 * run on (topology, platform record, thread pool), the database it is recorded
 * in, and the measurement of one sweep point from runner to stored row. */
#ifndef CTXBENCH_PIPELINE_STAGE_H
#define CTXBENCH_PIPELINE_STAGE_H

#include <stdint.h>

#include "db/store.h"
#include "experiments/runner.h"
#include "experiments/spec.h"
#include "platforms/measure.h"
#include "platforms/pool.h"
#include "platforms/topo.h"
#include "util/error.h"

typedef struct stage_machine {
    plat_topo *topo;
    plat_info info;
    pool *pool;          /* NULL unless asked for (never on an XML description) */
    store *store;        /* NULL until stage_machine_attach */
    int64_t platform_id; /* valid once attached */
} stage_machine;

/* Describes the live machine (xml_path NULL) or an XML one; starts the thread
 * pool when with_pool is set (live only).  Returns 0, or -1 with err; on error
 * m holds nothing to free but stage_machine_close is still safe. */
int stage_machine_open(stage_machine *m, const char *xml_path, int with_pool, cb_err *err);

/* Opens the database and records the platform in it (and starts the pool if
 * it was not).  Returns 0, or -1 with err. */
int stage_machine_attach(stage_machine *m, const char *db_path, cb_err *err);

/* Closes the store, stops the pool, frees the topology.  Safe on a zeroed m. */
void stage_machine_close(stage_machine *m);

/* Prepares (and so verifies) the runner's case for one point, times it with
 * opts, and stores the measurement in run run_id (and, for a probe case, the
 * probe figure in the platform record).  If out_median is not NULL it gets the
 * median seconds.  Returns 0, or -1 with err; an interruption (SIGINT/SIGTERM
 * caught by the run stage) fails the repetition in flight. */
int stage_measure_point(stage_machine *m, const exp_runner *runner, const exp_point *point,
                        const meas_opts *opts, int64_t run_id, cb_err *err);

/* Runs every point of spec not yet measured (all of them with force) as one
 * new run, printing a summary line.  Returns the exit code: 0, 1 on failure,
 * 130 when interrupted. */
int stage_run_spec(stage_machine *m, const exp_spec *spec, int force);

/* 1 once SIGINT or SIGTERM arrived during a run (pipeline/run.c). */
int stage_interrupted(void);

#endif
