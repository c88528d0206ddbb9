/* reports/format.h — helpers shared by the report's sections: reading the
 * store's JSON objects, formatting values for tables, and the roofline verdict.
 * Never: no measurement, no store access (sections get JSON). */
#ifndef CTXBENCH_REPORTS_FORMAT_H
#define CTXBENCH_REPORTS_FORMAT_H

#include <stdarg.h>
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
 * threads) on a platform object: the percent of the attainable
 * min(peak, AI x bandwidth) reached, with *memory_bound set to 1 (memory) or
 * 0 (compute); NAN when a figure is missing (then *memory_bound is -1). */
double report_bound(const json_t *platform, const json_t *m, int *memory_bound);

/* Builders' allocation helpers: a heap copy of s (NULL stays NULL), or a
 * formatted heap string; on failure NULL and *oom set to 1 (the builders
 * latch it and report it once).  Caller frees. */
char *report_dup(const char *s, int *oom);
char *report_vfmt(int *oom, const char *fmt, va_list ap);

/* Makes an id safe as a file-name stem: every character outside
 * [A-Za-z0-9._-] becomes '-'.  NULL is a no-op. */
void report_safe_id(char *id);

#endif
