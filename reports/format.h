/* reports/format.h — helpers shared by the report's sections: reading the
 * store's JSON objects, formatting values for tables, and the roofline verdict.
 * Never: no measurement, no store access (sections get JSON). */
#ifndef CTXBENCH_REPORTS_FORMAT_H
#define CTXBENCH_REPORTS_FORMAT_H

#include <stddef.h>

#include <jansson.h>

/* A string member, or "" when absent. */
const char *report_str(const json_t *obj, const char *key);

/* A numeric member (real or integer), or NAN when absent or null. */
double report_num(const json_t *obj, const char *key);

/* Seconds with a unit a reader takes in at a glance ("812 ns", "3.42 ms"); "–" for NAN. */
void report_time(double s, char *buf, size_t cap);

/* v printed with fmt, or "–" when not finite. */
void report_value(double v, const char *fmt, char *buf, size_t cap);

/* The roofline verdict of one measurement object (median_s, flops, bytes,
 * threads) on a platform object: "memory" or "compute" and the percent of the
 * attainable min(peak, AI x bandwidth) reached; "–" for both when a figure is
 * missing. */
void report_bound(const json_t *platform, const json_t *m, char *bound, size_t bcap, char *pct,
                  size_t pcap);

#endif
