/* pipeline/compare.c — `ctxbench compare A B`: options, output format and
 * exit status around reports/compare (which resolves, matches and tests).
 *
 * Exit status: 0 when no point is slower, 1 when some point is slower beyond
 * the threshold (so CI can gate on it), 2 on a usage or selection error or
 * any other failure (nothing was compared).
 *
 * Never: SQL, statistics (reports/ and platforms/stats do them), exit(). */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/cli.h"
#include "reports/compare.h"

/* Usage, selection and other failures: no comparison was made. */
#define COMPARE_EXIT_ERROR 2

static const char compare_usage[] =
    "usage: ctxbench compare A B [--alpha P] [--threshold PCT] [--format md|csv|json]\n"
    "                        [--experiment NAME] [--platform PREFIX] [--db PATH]\n"
    "\n"
    "Compares the measurements selected by A (the baseline) and B point by point,\n"
    "on their raw per-repetition samples.  A and B are each one of:\n"
    "  a run        its UUID or a unique prefix (at least 8 hex digits);\n"
    "  a revision   a source revision (git sha) or a unique prefix (at least 7):\n"
    "               the latest complete or interrupted run of each experiment at\n"
    "               that revision, on one platform;\n"
    "  a platform   a fingerprint prefix (at least 8 hex digits): the latest\n"
    "               complete or interrupted run of each experiment on it.\n"
    "Write run:, rev: or platform: in front when a prefix could be several kinds.\n"
    "A run stands for the results of its resumption chain, as in the report.\n"
    "\n"
    "A point is the same experiment, subject, implementation, phase, parameters\n"
    "and thread count on both sides; points on one side only are listed.  For\n"
    "each point in both:\n"
    "  B/A   the ratio of median times with its 1-P confidence interval\n"
    "        (Bonett & Price 2002: distribution-free, from order statistics);\n"
    "  p     the two-sided Mann-Whitney U test of the samples (exact when both\n"
    "        sides have at most 49 repetitions and no ties, else the normal\n"
    "        approximation with tie and continuity corrections; unequal\n"
    "        repetition counts are fine);\n"
    "  verdict  slower when p < P and B/A > 1 + PCT/100, faster when p < P and\n"
    "        B/A < 1/(1 + PCT/100), else no significant change.\n"
    "A point without raw samples, or with a time not > 0, is listed as not\n"
    "tested.  A warning names each point whose repetition counts cannot reach\n"
    "p < P even when every B sample exceeds every A sample.  The geometric mean\n"
    "of B/A over the tested points comes with a percentile bootstrap interval\n"
    "over the points (2000 resamples, fixed seed): how much the figure depends\n"
    "on which points were measured, not each point's own noise.\n"
    "\n"
    "  --alpha P         significance level, 0 < P < 1 (default 0.05)\n"
    "  --threshold PCT   smallest change that counts, in percent (default 5)\n"
    "  --format F        md (default: Markdown with aligned columns, readable in a\n"
    "                    terminal and pasteable into a review), csv (one row per\n"
    "                    point; the sides and warnings go to stderr) or json\n"
    "  --experiment NAME compare only this experiment\n"
    "  --platform PREFIX with revision selectors: only runs on this platform\n"
    "  --db PATH         the results database\n"
    "\n"
    "Exit status: 0 no point slower; 1 some point slower beyond the threshold;\n"
    "2 usage or selection error (unknown or ambiguous selector, nothing in common).\n";

typedef enum compare_format { FORMAT_MD, FORMAT_CSV, FORMAT_JSON } compare_format;

typedef struct compare_args {
    compare_opts opts;
    compare_format format;
    const char *db, *sel_a, *sel_b;
} compare_args;

/* A number that is the whole of text (a trailing '%' allowed when percent). */
static int compare_number(const char *text, int percent, double *out)
{
    char *end = NULL;
    *out = strtod(text, &end);
    if (percent && end && *end == '%')
        end++;
    return end != text && *end == '\0' && isfinite(*out) ? 0 : -1;
}

static int compare_option(int c, const char *arg, compare_args *a)
{
    switch (c) {
    case 'a':
        if (compare_number(arg, 0, &a->opts.alpha) != 0 || !(a->opts.alpha > 0 && a->opts.alpha < 1))
            return cli_error("compare: --alpha '%s': not a number between 0 and 1", arg);
        return 0;
    case 't':
        if (compare_number(arg, 1, &a->opts.threshold) != 0 || a->opts.threshold < 0)
            return cli_error("compare: --threshold '%s': not a percentage >= 0", arg);
        a->opts.threshold /= 100;
        return 0;
    case 'f':
        if (strcmp(arg, "md") == 0)
            a->format = FORMAT_MD;
        else if (strcmp(arg, "csv") == 0)
            a->format = FORMAT_CSV;
        else if (strcmp(arg, "json") == 0)
            a->format = FORMAT_JSON;
        else
            return cli_error("compare: --format '%s': expected md, csv or json", arg);
        return 0;
    case 'e': a->opts.experiment = arg; return 0;
    case 'p': a->opts.platform = arg; return 0;
    case 'd': a->db = arg; return 0;
    default: return 1;
    }
}

/* Parses the command line into a.  Returns 0, or non-zero after printing
 * what is wrong. */
static int compare_parse_args(int argc, char **argv, compare_args *a)
{
    static const struct option longopts[] = {
        {"alpha", required_argument, NULL, 'a'},      {"threshold", required_argument, NULL, 't'},
        {"format", required_argument, NULL, 'f'},     {"experiment", required_argument, NULL, 'e'},
        {"platform", required_argument, NULL, 'p'},   {"db", required_argument, NULL, 'd'},
        {NULL, 0, NULL, 0},
    };
    *a = (compare_args){.opts = {.alpha = 0.05, .threshold = 0.05}, .format = FORMAT_MD};
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (c == '?' || c == ':')
            return cli_error("compare: unknown or incomplete option '%s'", argv[optind - 1]);
        if (compare_option(c, optarg, a) != 0)
            return 1;
    }
    if (argc - optind != 2)
        return cli_error("compare: expected two selectors, A and B, got %d (ctxbench compare --help)",
                         argc - optind);
    a->sel_a = argv[optind];
    a->sel_b = argv[optind + 1];
    return 0;
}

/* CSV carries the points only: what the sides are and the warnings go to stderr. */
static void compare_csv_notes(const compare_result *r)
{
    compare_write_sides(r, "", stderr);
    for (size_t i = 0; i < r->n_points; i++)
        if (r->points[i].too_few) {
            char text[1024];
            compare_too_few_text(r, &r->points[i], text, sizeof text);
            fprintf(stderr, "ctxbench: warning: %s\n", text);
        }
}

static int compare_print(const compare_result *r, compare_format format)
{
    if (format == FORMAT_JSON) {
        json_t *j = compare_to_json(r);
        int rc = j ? cli_print_json(j) : cli_error("compare: out of memory");
        json_decref(j);
        return rc;
    }
    if (format == FORMAT_CSV)
        compare_csv_notes(r);
    int rc = format == FORMAT_CSV ? compare_write_csv(r, stdout) : compare_write_md(r, stdout);
    return rc == 0 ? 0 : cli_error("compare: cannot write to standard output");
}

int cmd_compare(int argc, char **argv)
{
    if (cli_wants_help(argc, argv, compare_usage))
        return 0;
    compare_args a;
    if (compare_parse_args(argc, argv, &a) != 0)
        return COMPARE_EXIT_ERROR;
    cb_err err = {{0}};
    store *s = NULL;
    compare_result *r = NULL;
    int rc = COMPARE_EXIT_ERROR;
    if (store_open(cli_db_path(a.db), &s, &err) != 0 ||
        compare_sets(s, a.sel_a, a.sel_b, &a.opts, &r, &err) != 0)
        cli_fail(&err);
    else if (compare_print(r, a.format) == 0)
        rc = compare_exit_status(r);
    compare_free(r);
    store_close(s);
    return rc;
}
