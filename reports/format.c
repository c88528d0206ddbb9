/* reports/format.c — what every report section shares: reading the store's
 * JSON, formatting times and numbers, the roofline verdict of a measurement,
 * and the builders' allocation helpers (see format.h). */
#include "reports/format.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reports/report.h"

const char *report_str(const json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s ? s : "";
}

/* A JSON number (real or integer), or NAN when absent or null. */
double report_num(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

/* Seconds with a unit a reader takes in at a glance: "812 ns", "3.42 ms". */
void report_time(double s, char *buf, size_t cap)
{
    if (isnan(s))
        snprintf(buf, cap, "–");
    else if (s < 1e-6)
        snprintf(buf, cap, "%.3g ns", s * 1e9);
    else if (s < 1e-3)
        snprintf(buf, cap, "%.3g µs", s * 1e6);
    else if (s < 1)
        snprintf(buf, cap, "%.3g ms", s * 1e3);
    else
        snprintf(buf, cap, "%.3g s", s);
}

void report_value(double v, const char *fmt, char *buf, size_t cap)
{
    if (isnan(v) || isinf(v))
        snprintf(buf, cap, "–");
    else
        snprintf(buf, cap, fmt, v);
}

/* The roofline verdict of one measurement: percent of the attainable
 * performance min(peak, AI x bandwidth) at its thread count, and the bound. */
double report_bound(const json_t *platform, const json_t *m, int *memory_bound)
{
    double median = report_num(m, "median_s"), flops = report_num(m, "flops"), bytes = report_num(m, "bytes");
    report_roof roof = report_roof_for(platform, (int)json_integer_value(json_object_get(m, "threads")));
    *memory_bound = -1;
    if (!(median > 0) || !(flops > 0) || !(bytes > 0) || !(roof.gbps > 0) || !(roof.gflops > 0))
        return NAN;
    double ai = flops / bytes, ridge = roof.gflops / roof.gbps;
    double attainable = ai < ridge ? ai * roof.gbps : roof.gflops;
    *memory_bound = ai < ridge;
    return 100.0 * (flops / median / 1e9) / attainable;
}

char *report_dup(const char *s, int *oom)
{
    char *d = s ? strdup(s) : NULL;
    if (s && !d)
        *oom = 1;
    return d;
}

char *report_vfmt(int *oom, const char *fmt, va_list ap)
{
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0) {
        *oom = 1;
        return NULL;
    }
    return s;
}

void report_safe_id(char *id)
{
    for (char *c = id; c && *c; c++)
        if (!(*c == '-' || *c == '_' || *c == '.' || (*c >= '0' && *c <= '9') ||
              (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z')))
            *c = '-';
}
