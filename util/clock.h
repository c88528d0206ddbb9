/* util/clock.h — the clocks ctxbench reads: a monotonic clock for timing and
 * wall-clock UTC timestamps for provenance. */
#ifndef CTXBENCH_UTIL_CLOCK_H
#define CTXBENCH_UTIL_CLOCK_H

#include <stdint.h>

/* Monotonic time in nanoseconds (CLOCK_MONOTONIC_RAW where available). */
int64_t cb_now_ns(void);

/* Writes the current UTC time as "YYYY-MM-DDTHH:MM:SSZ" to out. */
void cb_utc_iso(char out[32]);

#endif
