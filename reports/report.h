/* reports/report.h — the report, rendered from the database alone.
 *
 * For every selected experiment and every platform that ran it: the
 * provenance (platform, source revision, scale, runs), the platform's
 * measured roofline, the experiment's own section (operators against
 * context, whole models against context, ...: reports/operators.c,
 * reports/architectures.c) with its tables and figures, and every point
 * measured with its statistics as stored (median and the 95% CI of the
 * median), achieved GFLOP/s and GB/s, arithmetic intensity and the roofline
 * verdict computed from that platform's probe figures at the same thread
 * count.  When an experiment ran on several platforms, its tables put the
 * platforms side by side and its figures overlay them.
 *
 * Output: Markdown on a stream (the default), or a folder (-o DIR) with,
 * per experiment, Markdown, LaTeX (a document and one file per table), CSV
 * (one file per table and an index of their provenance), an HTML page, and
 * the figures (gnuplot data, scripts, PDF, SVG, PNG); see reports/output.h
 * for how the folder is written and when it is left alone.
 *
 * Never: no measurement, no reading of anything but the store. */
#ifndef CTXBENCH_REPORTS_REPORT_H
#define CTXBENCH_REPORTS_REPORT_H

#include <stdio.h>

#include "db/store.h"
#include "util/error.h"

/* The output formats of a report folder (a bit set). */
enum { REPORT_MD = 1, REPORT_TEX = 2, REPORT_CSV = 4, REPORT_HTML = 8, REPORT_ALL = 15 };

typedef struct report_options {
    const char *const *experiments; /* experiment names; none: every experiment */
    int n_experiments;
    const char *const *runs;        /* run UUIDs (or unique prefixes); none: the latest
                                     * results of each experiment and platform */
    int n_runs;
    const char *const *platforms;   /* platform fingerprint prefixes; none: every platform */
    int n_platforms;
    const char *out_dir;            /* NULL: Markdown to the stream */
    unsigned formats;               /* with out_dir: REPORT_* bits (0 means all) */
    int force;                      /* with out_dir: render even when nothing changed */
} report_options;

typedef struct report_summary {
    int experiments, tables, figures, files;
    int up_to_date;                 /* 1: the folder already held this report */
} report_summary;

/* Renders the report the options select: Markdown to out when
 * o->out_dir is NULL, else the folder (out unused).  Figures are drawn (with
 * gnuplot) when the formats include LaTeX or HTML.  sum may be NULL.
 * Returns 0, or -1 with err: nothing selected (naming the experiment, run or
 * platform that matched nothing), a store error, gnuplot missing or failing
 * (naming the script), or the folder not writable. */
int report_run(store *s, const report_options *o, FILE *out, report_summary *sum, cb_err *err);

/* Parses a comma-separated list of formats ("md,tex,csv,html") into REPORT_*
 * bits.  Returns 0, or -1 with err naming the unknown format. */
int report_parse_formats(const char *list, unsigned *formats, cb_err *err);

/* The Markdown report of one experiment (NULL for all) to out: report_run
 * with only that selection.  Returns 0, or -1 with err. */
int report_markdown(store *s, const char *experiment, FILE *out, cb_err *err);

/* The roofline of a platform at a thread count, from its probe records. */
typedef struct report_roof {
    double gbps;    /* sustained bandwidth, 0 when unknown */
    double gflops;  /* peak fp32 FLOP/s in GFLOP/s, 0 when unknown */
    int threads;    /* the thread count the figures were measured at */
} report_roof;

/* The latest probe figure of each (kind, threads) of a platform JSON object
 * (as store_platform_json returns), as a new JSON array (caller decrefs). */
json_t *report_latest_probes(const json_t *platform);

/* Picks the probe figures for `threads` from a platform JSON object (as
 * store_platform_json returns): the figures at that thread count when probed,
 * else the best at any count, from the latest figures.  Exposed for tests. */
report_roof report_roof_for(const json_t *platform, int threads);

/* Selects the result groups the options name (see report_options), as a
 * JSON array of store_latest_runs_json objects ordered by experiment, then
 * platform fingerprint.  Returns a new reference, or NULL with err naming
 * the experiment, run or platform that matched nothing (reports/select.c). */
json_t *report_select(store *s, const report_options *o, cb_err *err);

#endif
