/* pipeline/report.c — `ctxbench report`: the report rendered from the
 * database alone by reports/: Markdown on standard output, or a folder of
 * Markdown, LaTeX, CSV, HTML and figures (-o DIR).  Parses the options and
 * prints the outcome; never renders anything itself. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/cli.h"
#include "reports/report.h"

static const char report_usage[] =
    "usage: ctxbench report [--experiment NAME]... [--run UUID]... [--platform FINGERPRINT]...\n"
    "                       [--format md,tex,csv,html] [-o DIR] [--force] [--db PATH]\n"
    "\n"
    "Renders, from the results database alone, each experiment's tables (and\n"
    "figures) for each platform that ran it: by default the latest results of\n"
    "every experiment and platform as Markdown on standard output.\n"
    "  --experiment NAME    only this experiment (repeatable, or NAME,NAME)\n"
    "  --run UUID           the results of these runs (a unique prefix will do;\n"
    "                       repeatable) instead of the latest ones\n"
    "  --platform FP        only runs on the platform whose fingerprint starts with FP\n"
    "  -o DIR               write a report folder: DIR/report.md, DIR/index.html and,\n"
    "                       per experiment, DIR/NAME/report.{md,tex,html},\n"
    "                       DIR/NAME/tables/*.{csv,tex} and DIR/NAME/figures/* (gnuplot\n"
    "                       data, scripts, PDF, SVG, PNG).  Nothing is written when DIR\n"
    "                       already holds this very report.  (-o FILE.md writes the\n"
    "                       Markdown report to that file.)\n"
    "  --format LIST        with -o DIR: the formats to write (default md,tex,csv,html);\n"
    "                       figures are drawn (gnuplot) for tex and html\n"
    "  --force              with -o DIR: render even when nothing changed\n"
    "Several platforms side by side: their tables get one column group each and\n"
    "their figures overlay them.\n";

#define REPORT_MAX_NAMES 64

/* A repeatable option's values: each argument may be a comma-separated list. */
typedef struct report_names {
    const char *v[REPORT_MAX_NAMES];
    int n;
    char *owned[REPORT_MAX_NAMES]; /* the strdup'ed arguments v points into */
    int n_owned;
} report_names;

static int report_names_add(report_names *names, const char *arg, const char *option)
{
    char *copy = names->n_owned < REPORT_MAX_NAMES ? strdup(arg) : NULL;
    if (!copy)
        return cli_error("report: %s: too many values (or out of memory)", option);
    names->owned[names->n_owned++] = copy;
    for (char *tok = strtok(copy, ","); tok; tok = strtok(NULL, ",")) {
        if (names->n == REPORT_MAX_NAMES)
            return cli_error("report: %s: more than %d values", option, REPORT_MAX_NAMES);
        names->v[names->n++] = tok;
    }
    return 0;
}

static void report_names_free(report_names *names)
{
    for (int i = 0; i < names->n_owned; i++)
        free(names->owned[i]);
}

/* 1 when -o names a Markdown file (the old `-o FILE` form) rather than a folder. */
static int report_is_md_file(const char *path)
{
    size_t n = strlen(path);
    return n > 3 && strcmp(path + n - 3, ".md") == 0;
}

static void report_print_summary(const char *dir, const report_summary *sum)
{
    if (sum->up_to_date)
        printf("report: %s is up to date (the database has not changed since it was written)\n",
               dir);
    else
        printf("report: %d experiment%s, %d tables, %d figures: %d files in %s\n",
               sum->experiments, sum->experiments == 1 ? "" : "s", sum->tables, sum->figures,
               sum->files, dir);
}

/* Renders with the parsed options: to stdout, a Markdown file or a folder. */
static int report_render(const char *db, report_options *o, int formats_given)
{
    cb_err err = {{0}};
    store *s = NULL;
    if (!o->out_dir && formats_given)
        return cli_error("report: --format needs -o DIR (standard output is Markdown)");
    if (store_open(cli_db_path(db), &s, &err) != 0)
        return cli_fail(&err);
    const char *md_file = o->out_dir && report_is_md_file(o->out_dir) ? o->out_dir : NULL;
    FILE *out = md_file ? fopen(md_file, "w") : stdout;
    report_summary sum;
    int rc = 0;
    if (md_file)
        o->out_dir = NULL;
    if (!out)
        rc = cli_error("report: %s: %s", md_file, strerror(errno));
    else if (report_run(s, o, out, &sum, &err) != 0)
        rc = cli_fail(&err);
    else if (o->out_dir)
        report_print_summary(o->out_dir, &sum);
    if (md_file && out && fclose(out) != 0 && rc == 0)
        rc = cli_error("report: %s: %s", md_file, strerror(errno));
    store_close(s);
    return rc;
}

int cmd_report(int argc, char **argv)
{
    if (cli_wants_help(argc, argv, report_usage))
        return 0;
    static const struct option longopts[] = {
        {"experiment", required_argument, NULL, 'e'}, {"run", required_argument, NULL, 'r'},
        {"platform", required_argument, NULL, 'p'},   {"format", required_argument, NULL, 'f'},
        {"output", required_argument, NULL, 'o'},     {"force", no_argument, NULL, 'F'},
        {"db", required_argument, NULL, 'd'},         {NULL, 0, NULL, 0},
    };
    report_names experiments = {0}, runs = {0}, platforms = {0};
    report_options o = {0};
    const char *db = NULL;
    int formats_given = 0, rc = 0, c;
    cb_err err = {{0}};
    optind = 1;
    opterr = 0;
    while (rc == 0 && (c = getopt_long(argc, argv, "o:", longopts, NULL)) != -1) {
        switch (c) {
        case 'e': rc = report_names_add(&experiments, optarg, "--experiment"); break;
        case 'r': rc = report_names_add(&runs, optarg, "--run"); break;
        case 'p': rc = report_names_add(&platforms, optarg, "--platform"); break;
        case 'f':
            formats_given = 1;
            if (report_parse_formats(optarg, &o.formats, &err) != 0)
                rc = cli_fail(&err);
            break;
        case 'o': o.out_dir = optarg; break;
        case 'F': o.force = 1; break;
        case 'd': db = optarg; break;
        default: rc = cli_error("report: unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (rc == 0 && optind != argc)
        rc = cli_error("report: unexpected argument '%s'", argv[optind]);
    if (rc == 0) {
        o.experiments = experiments.v;
        o.n_experiments = experiments.n;
        o.runs = runs.v;
        o.n_runs = runs.n;
        o.platforms = platforms.v;
        o.n_platforms = platforms.n;
        rc = report_render(db, &o, formats_given);
    }
    report_names_free(&experiments);
    report_names_free(&runs);
    report_names_free(&platforms);
    return rc;
}
