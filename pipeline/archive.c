/* pipeline/archive.c — `ctxbench archive export|import`: moving runs between
 * results databases as tar + zstd result archives (db/archive.h does the work).
 * Prints one summary line on success; never touches the database on a failed
 * import (db/archive.c checks everything before its one transaction). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/archive.h"
#include "pipeline/cli.h"

static const char archive_usage[] =
    "usage: ctxbench archive export [--run UUID]... [--experiment NAME] [--db PATH] -o FILE.tar.zst\n"
    "       ctxbench archive import FILE [--db PATH]\n"
    "\n"
    "export  writes the runs given by --run (a uuid or unique prefix, repeatable) and\n"
    "        every run of --experiment (both: the union; neither: every run) with their\n"
    "        measurements, samples, counters, breakdowns, metrics, platforms and\n"
    "        experiment files, and a manifest with the sha256 of every member\n"
    "import  checks the archive (manifest, format version, every member's size and\n"
    "        sha256, unsafe entries) and then merges its runs in one transaction:\n"
    "        runs already here are skipped, uuids kept, platforms matched by\n"
    "        fingerprint, and each new run records the archive as its origin\n";

typedef struct archive_opts {
    const char *db;
    const char *experiment;
    const char *output;
    const char **runs;
    size_t n_runs;
} archive_opts;

static int archive_parse(int argc, char **argv, archive_opts *o)
{
    static const struct option longopts[] = {
        {"db", required_argument, NULL, 'd'},     {"experiment", required_argument, NULL, 'e'},
        {"run", required_argument, NULL, 'r'},    {"output", required_argument, NULL, 'o'},
        {NULL, 0, NULL, 0},
    };
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "o:", longopts, NULL)) != -1) {
        switch (c) {
        case 'd': o->db = optarg; break;
        case 'e': o->experiment = optarg; break;
        case 'o': o->output = optarg; break;
        case 'r': {
            const char **r = realloc(o->runs, (o->n_runs + 1) * sizeof *r);
            if (!r)
                return cli_error("archive: out of memory");
            o->runs = r;
            o->runs[o->n_runs++] = optarg;
            break;
        }
        default:
            return cli_error("archive: unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    return 0;
}

static int archive_export(const archive_opts *o, int extra)
{
    if (extra != 0)
        return cli_error("archive export: unexpected argument (ctxbench archive --help)");
    if (!o->output)
        return cli_error("archive export: -o FILE is required");
    cb_err err = {{0}};
    store *s = NULL;
    if (store_open(cli_db_path(o->db), &s, &err) != 0)
        return cli_fail(&err);
    dbarc_export_opts eo = {.runs = o->runs, .n_runs = o->n_runs, .experiment = o->experiment};
    size_t n = 0;
    int rc = 0;
    if (dbarc_export(s, &eo, o->output, &n, &err) != 0)
        rc = cli_fail(&err);
    else
        printf("exported %zu run%s to %s\n", n, n == 1 ? "" : "s", o->output);
    store_close(s);
    return rc;
}

static int archive_import(const archive_opts *o, const char *file)
{
    if (o->output || o->experiment || o->n_runs)
        return cli_error("archive import: only --db applies (ctxbench archive --help)");
    cb_err err = {{0}};
    store *s = NULL;
    if (store_open(cli_db_path(o->db), &s, &err) != 0)
        return cli_fail(&err);
    dbarc_import_result r;
    int rc = 0;
    if (dbarc_import(s, file, NULL, &r, &err) != 0)
        rc = cli_fail(&err);
    else
        printf("imported %d of %zu run%s from %s (%zu already here)\n", r.n_imported, r.n_runs,
               r.n_runs == 1 ? "" : "s", file, r.n_runs - (size_t)r.n_imported);
    store_close(s);
    return rc;
}

int cmd_archive(int argc, char **argv)
{
    if (cli_wants_help(argc, argv, archive_usage))
        return 0;
    if (argc < 2)
        return cli_error("archive: expected 'export' or 'import FILE' (ctxbench archive --help)");
    const char *action = argv[1];
    archive_opts o = {0};
    int rc = archive_parse(argc - 1, argv + 1, &o);
    int extra = argc - 1 - optind;
    if (rc != 0) {
        /* the error is printed */
    } else if (strcmp(action, "export") == 0) {
        rc = archive_export(&o, extra);
    } else if (strcmp(action, "import") == 0) {
        rc = extra == 1 ? archive_import(&o, argv[1 + optind])
                        : cli_error("archive import: expected one archive file");
    } else {
        rc = cli_error("archive: unknown action '%s' (expected export or import)", action);
    }
    free(o.runs);
    return rc;
}
