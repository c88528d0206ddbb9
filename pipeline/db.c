/* pipeline/db.c — `ctxbench db`: list runs, show one run, check the database.
 * Reads through db/store.h only; prints tables for people and JSON on request. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "db/store.h"
#include "pipeline/cli.h"

static const char db_usage[] =
    "usage: ctxbench db runs [--experiment NAME] [--json] [--db PATH]\n"
    "       ctxbench db show RUN [--json] [--db PATH]     (RUN: a UUID or a unique prefix)\n"
    "       ctxbench db check [--db PATH]\n"
    "\n"
    "runs   the runs in the database, newest first\n"
    "show   one run: provenance, measurements with statistics, counters and metrics\n"
    "check  SQLite integrity and foreign-key checks, and the schema version\n";

typedef struct db_opts {
    const char *db;
    const char *experiment;
    int json;
} db_opts;

static int db_parse(int argc, char **argv, db_opts *o)
{
    static const struct option longopts[] = {
        {"db", required_argument, NULL, 'd'},
        {"experiment", required_argument, NULL, 'e'},
        {"json", no_argument, NULL, 'j'},
        {NULL, 0, NULL, 0},
    };
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'd': o->db = optarg; break;
        case 'e': o->experiment = optarg; break;
        case 'j': o->json = 1; break;
        default:
            return cli_error("db: unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    return 0;
}

static const char *db_str(const json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s ? s : "";
}

static void db_print_runs(const json_t *runs)
{
    printf("%-36s  %-16s  %-5s  %-11s  %-20s  %6s  %s\n", "run", "experiment", "scale", "status",
           "started (UTC)", "points", "revision");
    size_t i;
    json_t *r;
    json_array_foreach(runs, i, r) {
        printf("%-36s  %-16s  %-5s  %-11s  %-20s  %6lld  %.12s%s\n", db_str(r, "uuid"),
               db_str(r, "experiment"), db_str(r, "scale"), db_str(r, "status"),
               db_str(r, "started_at"), json_integer_value(json_object_get(r, "n_measurements")),
               db_str(r, "revision"), json_integer_value(json_object_get(r, "dirty")) == 1 ? "-dirty" : "");
    }
    if (json_array_size(runs) == 0)
        printf("(no runs)\n");
}

static void db_print_run(const json_t *run)
{
    const json_t *plat = json_object_get(run, "platform");
    printf("run         %s\n", db_str(run, "uuid"));
    printf("experiment  %s (%s scale, config %.12s, from %s)\n", db_str(run, "experiment"),
           db_str(run, "scale"), db_str(run, "config_hash"), db_str(run, "config_path"));
    printf("status      %s, %s .. %s\n", db_str(run, "status"), db_str(run, "started_at"),
           db_str(run, "ended_at"));
    printf("source      %s%s, %s %s\n", db_str(run, "revision"),
           json_integer_value(json_object_get(run, "dirty")) == 1 ? " (dirty)" : "",
           db_str(run, "compiler"), db_str(run, "cflags"));
    printf("platform    %.16s: %s, %lld cores\n", db_str(plat, "fingerprint"), db_str(plat, "cpu_model"),
           json_integer_value(json_object_get(plat, "n_cores")));
    printf("\n%-10s %-10s %-8s %-40s %4s %5s %12s %25s\n", "subject", "impl", "phase", "parameters",
           "thr", "reps", "median", "95% CI of median");
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(run, "measurements"), i, m) {
        printf("%-10s %-10s %-8s %-40s %4lld %5lld %12.4g %12.4g..%-12.4g\n", db_str(m, "subject"),
               db_str(m, "impl"), db_str(m, "phase"), db_str(m, "params_json"),
               json_integer_value(json_object_get(m, "threads")),
               json_integer_value(json_object_get(m, "reps")),
               json_number_value(json_object_get(m, "median_s")),
               json_number_value(json_object_get(m, "ci_lo_s")),
               json_number_value(json_object_get(m, "ci_hi_s")));
    }
    printf("(times in seconds; ctxbench db show --json for samples, counters and metrics)\n");
}

static int db_runs(const db_opts *o, store *s)
{
    cb_err err = {{0}};
    json_t *runs = store_runs_json(s, o->experiment, &err);
    if (!runs)
        return cli_fail(&err);
    int rc = 0;
    if (o->json)
        rc = cli_print_json(runs);
    else
        db_print_runs(runs);
    json_decref(runs);
    return rc;
}

static int db_show(const db_opts *o, store *s, const char *uuid)
{
    cb_err err = {{0}};
    json_t *run = store_run_json(s, uuid, &err);
    if (!run)
        return cli_fail(&err);
    int rc = 0;
    if (o->json)
        rc = cli_print_json(run);
    else
        db_print_run(run);
    json_decref(run);
    return rc;
}

static int db_check(store *s)
{
    cb_err err = {{0}};
    int ok = 0, version = 0;
    char verdict[512];
    if (store_check(s, &ok, verdict, sizeof verdict, &version, &err) != 0)
        return cli_fail(&err);
    printf("%s\n", verdict);
    return ok ? 0 : 1;
}

int cmd_db(int argc, char **argv)
{
    if (cli_wants_help(argc, argv, db_usage))
        return 0;
    if (argc < 2)
        return cli_error("db: expected 'runs', 'show RUN' or 'check' (ctxbench db --help)");
    const char *action = argv[1];
    db_opts o = {0};
    if (db_parse(argc - 1, argv + 1, &o) != 0)
        return 1;
    const char *uuid = NULL;
    int extra = argc - 1 - optind;
    if (strcmp(action, "show") == 0) {
        if (extra != 1)
            return cli_error("db show: expected one run UUID");
        uuid = argv[1 + optind];
    } else if (extra != 0) {
        return cli_error("db %s: unexpected argument '%s'", action, argv[1 + optind]);
    }
    if (strcmp(action, "runs") != 0 && strcmp(action, "show") != 0 && strcmp(action, "check") != 0)
        return cli_error("db: unknown action '%s' (expected runs, show or check)", action);
    cb_err err = {{0}};
    store *s = NULL;
    if (store_open(cli_db_path(o.db), &s, &err) != 0)
        return cli_fail(&err);
    int rc = strcmp(action, "runs") == 0   ? db_runs(&o, s)
             : strcmp(action, "show") == 0 ? db_show(&o, s, uuid)
                                           : db_check(s);
    store_close(s);
    return rc;
}
