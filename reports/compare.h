/* reports/compare.h — `ctxbench compare A B`: two sets of measurements from
 * the database, matched point by point and compared on their raw samples.
 *
 * A selector names a set of runs:
 *   run       a run UUID or a unique prefix of one (at least 8 hex digits);
 *   revision  a source revision or a unique prefix (at least 7 hex digits):
 *             the latest complete or interrupted run of each experiment at
 *             that revision (on one platform: several are an error unless
 *             compare_opts.platform picks one);
 *   platform  a fingerprint prefix (at least 8 hex digits): the latest
 *             complete or interrupted run of each experiment on it.
 * "run:", "rev:" or "platform:" in front says which; without it every kind is
 * tried and a selector that fits more than one kind, or several values of
 * one kind, is refused as ambiguous.  Each run stands for the results of its
 * resumption chain (store_run_results_json), as in the report.
 *
 * A point is identified by (experiment, subject, implementation, phase,
 * canonical parameters, threads).  For a point in both sets: the ratio of
 * medians B/A with its Bonett-Price confidence interval at 1 - alpha, the
 * two-sided Mann-Whitney U test of the raw samples (exact for small samples
 * without ties), the smallest p the repetition counts allow, and a verdict.
 * Points in one set only are kept and counted, never dropped.  Over the
 * compared points, the geometric mean of the ratios with a percentile
 * bootstrap interval over the points (it shows how much the figure depends on
 * which points were measured, not each point's measurement noise).
 *
 * Never: SQL (only db/store.h), measuring, printing anywhere but the FILE it
 * is handed, or exiting. */
#ifndef CTXBENCH_REPORTS_COMPARE_H
#define CTXBENCH_REPORTS_COMPARE_H

#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include "db/store.h"
#include "platforms/stats.h"
#include "util/error.h"

/* Bootstrap resamples of the geometric mean's interval (the seed is fixed, so
 * the same database always gives the same interval). */
#define COMPARE_GEOMEAN_RESAMPLES 2000

typedef struct compare_opts {
    double alpha;           /* significance level, in (0, 1): 0.05 */
    double threshold;       /* the smallest relative change that counts, >= 0: 0.05 for 5% */
    const char *experiment; /* only this experiment, or NULL for all */
    const char *platform;   /* revision selectors: only runs on a platform whose
                             * fingerprint starts with this, or NULL */
} compare_opts;

typedef enum compare_kind { COMPARE_RUN, COMPARE_REVISION, COMPARE_PLATFORM } compare_kind;

/* One side (A or B) as its selector resolved. */
typedef struct compare_side {
    char name;         /* 'A' or 'B' */
    char *selector;    /* as given (owned) */
    compare_kind kind;
    char *value;       /* the full UUID, revision or fingerprint it stands for (owned) */
    json_t *runs;      /* store_run_results_json objects, one per experiment (owned) */
} compare_side;

typedef enum compare_verdict {
    COMPARE_UNCHANGED,  /* no significant change (or one below the threshold) */
    COMPARE_FASTER,     /* p < alpha and B/A < 1 / (1 + threshold) */
    COMPARE_SLOWER,     /* p < alpha and B/A > 1 + threshold */
    COMPARE_NOT_TESTED, /* a side has no raw samples, or a time that is not > 0 */
    COMPARE_ONLY_A,     /* the point is in A only */
    COMPARE_ONLY_B,     /* the point is in B only */
} compare_verdict;

/* One point.  The strings are borrowed from the sides' JSON, except label. */
typedef struct compare_point {
    const char *experiment, *subject, *impl, *phase, *params_json;
    int threads;
    char *label;        /* "experiment subject/impl phase k=v ... threads=N" (owned) */
    int n_a, n_b;       /* raw samples on each side (0 on the side it is missing from) */
    stats_ratio ratio;  /* medians, B/A and its interval (NaN when not tested) */
    stats_mw test;      /* Mann-Whitney of A against B (zeroed when not tested) */
    double min_p;       /* the smallest p n_a and n_b allow (NaN when not tested) */
    int too_few;        /* 1 when min_p >= alpha: no change could be detected */
    compare_verdict verdict;
} compare_point;

typedef struct compare_result {
    compare_opts opts;
    compare_side a, b;
    compare_point *points;  /* the points of A in A's order (experiments by
                             * name, then as measured), then those only in B */
    size_t n_points;
    double geomean, geomean_lo, geomean_hi; /* of B/A over the tested points;
                                             * NaN when there are none */
    size_t n_slower, n_faster, n_unchanged, n_not_tested, n_only_a, n_only_b, n_too_few;
} compare_result;

/* Resolves the selectors sel_a and sel_b in the store, matches their points
 * and compares them with options o (alpha and threshold checked here).
 * Returns 0 and a result the caller frees with compare_free(), or -1 with err
 * naming the side and the selector at fault (no match, ambiguous, too short,
 * nothing measured) or the store's error. */
int compare_sets(store *s, const char *sel_a, const char *sel_b, const compare_opts *o,
                 compare_result **out, cb_err *err);

void compare_free(compare_result *r); /* NULL is a no-op */

/* The verdict of one point: COMPARE_SLOWER when p < alpha and
 * ratio > 1 + threshold, COMPARE_FASTER when p < alpha and
 * ratio < 1 / (1 + threshold), else COMPARE_UNCHANGED (NaNs included). */
compare_verdict compare_verdict_for(double ratio, double p, double alpha, double threshold);

/* "slower", "faster", "no significant change", "not tested", "only in A",
 * "only in B" (static strings). */
const char *compare_verdict_name(compare_verdict v);

/* The exit status the result calls for: 1 when some point is slower, else 0. */
int compare_exit_status(const compare_result *r);

/* Writes what each side resolved to, one "A = ..." line per side and one
 * indented line per run, with prefix in front of every line (e.g. "" or
 * "- "). */
void compare_write_sides(const compare_result *r, const char *prefix, FILE *out);

/* The warning of a point with too few repetitions (too_few set), one line
 * without a newline, into buf. */
void compare_too_few_text(const compare_result *r, const compare_point *p, char *buf, size_t cap);

/* The whole comparison as Markdown whose table columns are padded to line up,
 * so it reads in a terminal and pastes into a review unchanged: the sides,
 * the method, the table of compared points, the geometric mean, a summary,
 * the points found on one side only and the warnings.  Returns 0, or -1 when
 * writing fails. */
int compare_write_md(const compare_result *r, FILE *out);

/* One CSV row per point (header first), unmatched and untested points
 * included with empty statistics.  Returns 0, or -1 when writing fails. */
int compare_write_csv(const compare_result *r, FILE *out);

/* The comparison as a JSON object: options, sides with their runs, points,
 * geometric mean, summary and exit_status.  NULL when memory runs out.
 * Caller owns the reference. */
json_t *compare_to_json(const compare_result *r);

#endif
