/* pipeline/run.c — `ctxbench run FILE.ini`: the run stage.
 *
 * Loads and validates the experiment (nothing is written if it is bad), finds
 * which points still need measuring (resumption: same experiment, config hash,
 * scale, platform and source revision), then for each point asks the runner
 * for a verified case, times it with the measurement core and hands the
 * finished measurement to the store, which commits it at once.
 *
 * The run's states: running (store_run_begin) -> complete | failed |
 * interrupted (store_run_end).  SIGINT/SIGTERM set a flag; the repetition in
 * flight then fails with "interrupted", the point is dropped, and the run is
 * marked interrupted (a second signal kills at once; the next store_open
 * marks such a run interrupted). */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/store.h"
#include "experiments/spec.h"
#include "pipeline/cli.h"
#include "pipeline/stage.h"

static const char run_usage[] =
    "usage: ctxbench run FILE.ini [--scale quick|full] [--force] [--dry-run] [--db PATH]\n"
    "\n"
    "Runs every point of the experiment's sweep at the scale (quick by default),\n"
    "skipping points already measured for the same configuration, scale, platform\n"
    "and source revision unless --force.  --dry-run lists the points and exits.\n";

static volatile sig_atomic_t run_signalled;

static void run_on_signal(int sig)
{
    run_signalled = sig;
}

static void run_catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = run_on_signal;
    sa.sa_flags = SA_RESETHAND; /* a second signal takes the default action */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

int stage_interrupted(void)
{
    return run_signalled != 0;
}

typedef struct run_opts {
    const char *path;
    const char *scale;
    const char *db;
    int force;
    int dry_run;
} run_opts;

static int run_parse(int argc, char **argv, run_opts *o)
{
    static const struct option longopts[] = {
        {"scale", required_argument, NULL, 's'}, {"db", required_argument, NULL, 'd'},
        {"force", no_argument, NULL, 'f'},       {"dry-run", no_argument, NULL, 'n'},
        {NULL, 0, NULL, 0},
    };
    optind = 1;
    opterr = 0;
    o->scale = "quick";
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 's': o->scale = optarg; break;
        case 'd': o->db = optarg; break;
        case 'f': o->force = 1; break;
        case 'n': o->dry_run = 1; break;
        default: return cli_error("run: unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (argc - optind != 1)
        return cli_error("run: expected one experiment file (ctxbench run --help)");
    o->path = argv[optind];
    return 0;
}

static void run_info_fill(const exp_spec *spec, const stage_machine *m, store_run_info *info)
{
    info->experiment = spec->name;
    info->config_path = spec->path;
    info->config_text = spec->text;
    info->config_hash = spec->config_hash;
    info->scale = spec->scale;
    info->platform_id = m->platform_id;
    info->revision = m->info.revision;
    info->dirty = m->info.dirty;
    info->compiler = m->info.compiler;
    info->cflags = m->info.cflags;
    info->seed = spec->seed;
}

/* Records how many pool workers are bound to their cores (a refused binding
 * is not fatal, but results taken with it must say so). */
static int run_record_binding(stage_machine *m, int64_t run_id, cb_err *err)
{
    int n = pool_size(m->pool), bound = pool_n_bound(m->pool);
    if (bound < n) {
        char report[512];
        pool_binding_report(m->pool, report, sizeof report);
        fprintf(stderr, "ctxbench: warning: %s\n", report);
    }
    if (store_metric_put(m->store, run_id, 0, "pool_workers", n, "count", 0, err) != 0)
        return -1;
    return store_metric_put(m->store, run_id, 0, "pool_workers_bound", bound, "count", 0, err);
}

/* Marks in todo[] the points still to measure; returns how many, or -1. */
static int run_plan(store *s, const exp_spec *spec, const store_run_info *info, int force,
                    char *todo, cb_err *err)
{
    int n = 0;
    for (int i = 0; i < spec->n_points; i++) {
        int done = 0;
        if (!force && store_point_done(s, info, NULL, NULL, NULL, spec->points[i].params_hash,
                                       &done, err) != 0)
            return -1;
        todo[i] = !done;
        n += !done;
    }
    return n;
}

/* One line of progress, redrawn in place, on a terminal only. */
static void run_progress(const exp_spec *spec, int index, int total, const exp_point *pt)
{
    if (cli_progress_enabled())
        fprintf(stderr, "\r\033[K[%d/%d] %s %s", index, total, spec->name, pt->params_json);
}

static void run_progress_done(void)
{
    if (cli_progress_enabled())
        fprintf(stderr, "\r\033[K");
}

/* Measures the points marked in todo[] into the run, counting them in
 * *n_measured.  Returns 0, or -1 with err (a runner, measurement or store
 * failure, or an interruption). */
static int run_points(stage_machine *m, const exp_spec *spec, const char *todo, int n_todo,
                      int64_t run_id, int *n_measured, cb_err *err)
{
    for (int i = 0; i < spec->n_points; i++) {
        if (!todo[i])
            continue;
        const exp_point *pt = &spec->points[i];
        run_progress(spec, *n_measured + 1, n_todo, pt);
        if (stage_measure_point(m, spec->runner, pt, &spec->meas, run_id, err) != 0)
            return cb_wrap(err, "%s: point %s", spec->name, pt->params_json);
        ++*n_measured;
    }
    run_progress_done();
    return 0;
}

/* Says how many points of the sweep the runner cannot run by design. */
static void run_note_inapplicable(const exp_spec *spec)
{
    if (spec->n_inapplicable > 0)
        fprintf(stderr, "ctxbench: note: %s: %d point(s) left out as not applicable, e.g. %s\n",
                spec->name, spec->n_inapplicable, spec->inapplicable_why);
}

int stage_run_spec(stage_machine *m, const exp_spec *spec, int force)
{
    run_note_inapplicable(spec);
    cb_err err = {{0}};
    store_run_info info = {0};
    run_info_fill(spec, m, &info);
    char *todo = calloc((size_t)spec->n_points, 1);
    if (!todo)
        return cli_error("out of memory");
    int n_todo = run_plan(m->store, spec, &info, force, todo, &err);
    int rc = 0;
    if (n_todo < 0) {
        rc = cli_fail(&err);
    } else if (n_todo == 0) {
        printf("%s: all %d points already measured at this revision on this platform "
               "(--force to measure again)\n", spec->name, spec->n_points);
    } else {
        char uuid[CB_UUID_LEN];
        int64_t run_id;
        run_catch_signals();
        if (store_run_begin(m->store, &info, uuid, &run_id, &err) != 0 ||
            run_record_binding(m, run_id, &err) != 0) {
            free(todo);
            return cli_fail(&err);
        }
        int n_measured = 0;
        int failed = run_points(m, spec, todo, n_todo, run_id, &n_measured, &err);
        const char *status = stage_interrupted() ? "interrupted" : failed ? "failed" : "complete";
        cb_err end_err = {{0}};
        if (store_run_end(m->store, run_id, status, &end_err) != 0)
            cli_fail(&end_err);
        if (failed)
            cli_fail(&err);
        printf("%s: run %s %s: %d of %d points measured now, %d measured before\n", spec->name,
               uuid, status, n_measured, spec->n_points, spec->n_points - n_todo);
        rc = stage_interrupted() ? 130 : failed ? 1 : 0;
    }
    free(todo);
    return rc;
}

static void run_list_points(const exp_spec *spec)
{
    printf("%s (%s scale, runner %s): %d points\n", spec->name, spec->scale, spec->runner->name,
           spec->n_points);
    run_note_inapplicable(spec);
    for (int i = 0; i < spec->n_points; i++)
        printf("  %s\n", spec->points[i].params_json);
}

int cmd_run(int argc, char **argv)
{
    if (cli_wants_help(argc, argv, run_usage))
        return 0;
    run_opts o = {0};
    if (run_parse(argc, argv, &o) != 0)
        return 2;
    cb_err err = {{0}};
    stage_machine m = {0};
    exp_spec *spec = NULL;
    int rc = 1;
    if (stage_machine_open(&m, NULL, 0, &err) != 0 ||
        exp_spec_load(o.path, o.scale, m.info.n_cores, &spec, &err) != 0) {
        rc = cli_fail(&err);
    } else if (o.dry_run) {
        run_list_points(spec);
        rc = 0;
    } else if (stage_machine_attach(&m, cli_db_path(o.db), &err) != 0) {
        rc = cli_fail(&err);
    } else {
        rc = stage_run_spec(&m, spec, o.force);
    }
    exp_spec_free(spec);
    stage_machine_close(&m);
    return rc;
}
