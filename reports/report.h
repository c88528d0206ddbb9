/* reports/report.h — renders results from the database alone.
 *
 * For every experiment (or the one asked for) and every platform that ran it,
 * the latest run's measurements as a Markdown table: latency statistics,
 * achieved GFLOP/s and GB/s, arithmetic intensity, and the roofline verdict
 * (memory- or compute-bound, percent of the attainable roofline) computed from
 * that platform's measured probe figures at the same thread count.  Each table
 * carries its provenance: platform, source revision, run UUIDs, scale.
 *
 * Never: no measurement, no reading of anything but the store. */
#ifndef CTXBENCH_REPORTS_REPORT_H
#define CTXBENCH_REPORTS_REPORT_H

#include <stdio.h>

#include "db/store.h"
#include "util/error.h"

/* Writes the Markdown report to out.  experiment may be NULL for all.
 * Returns 0, or -1 with err (a store error, or no results to report). */
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

#endif
