/* platforms/counters.h — private to the measurement core: hardware and software
 * counters through perf_event_open(2), one event per file descriptor.
 *
 * Lifecycle of a ctr_set:
 *   ctr_init()   every descriptor -1 (closed); ctr_close() is then safe.
 *   ctr_open()   every event is opened disabled; each gets its own verdict
 *                (supported, or unsupported with the reason) in vals[].
 *   ctr_start()  reset and enable every opened event (just before the timed loop).
 *   ctr_pause() / ctr_resume()  disable / re-enable without resetting (around
 *                untimed work inside the loop, e.g. a cache flush).
 *   ctr_stop()   disable (just after the timed loop).
 *   ctr_read()   read, scale for multiplexing, divide by the repetitions.
 *   ctr_close()  close every descriptor; safe on an initialised or half-opened set.
 *
 * Events use inherit=1: threads the measured closure creates after ctr_open()
 * are counted too.  Threads that already existed (a thread pool created before
 * the measurement) are NOT counted: perf inheritance happens at clone time.
 *
 * Never: fail the measurement because a counter is missing (that is a verdict,
 * not an error), print, or allocate. */
#ifndef CTXBENCH_PLATFORMS_COUNTERS_H
#define CTXBENCH_PLATFORMS_COUNTERS_H

#include <stdint.h>

#include "platforms/measure.h"

/* What read(2) returns with our read_format (TOTAL_TIME_ENABLED|RUNNING). */
typedef struct ctr_reading {
    uint64_t value, time_enabled, time_running;
} ctr_reading;

typedef struct ctr_set {
    int fd[CTR_COUNT]; /* -1 when not opened */
} ctr_set;

/* Marks every descriptor closed (-1); call before anything else. */
void ctr_init(ctr_set *s);

/* Marks every counter unsupported with `reason` and fills names and units. */
void ctr_mark_all(ctr_value vals[CTR_COUNT], const char *reason);

/* Opens each counter separately, disabled.  Fills vals[] with names, units and
 * a verdict per counter; never fails.  Call ctr_close() afterwards. */
void ctr_open(ctr_set *s, ctr_value vals[CTR_COUNT]);

void ctr_start(const ctr_set *s);
void ctr_pause(const ctr_set *s);
void ctr_resume(const ctr_set *s);
void ctr_stop(const ctr_set *s);

/* Reads every opened counter into vals[].per_rep (value / reps, scaled by
 * time_enabled / time_running when multiplexed).  A counter that read with
 * time_running == 0 becomes unsupported with reason "not scheduled". */
void ctr_read(const ctr_set *s, int reps, ctr_value vals[CTR_COUNT]);

/* One counter's verdict from its reading: time_running == 0 (never scheduled,
 * multiplexed out) makes it unsupported with reason "not scheduled";
 * otherwise per_rep = value * time_enabled / time_running / reps (no scaling
 * when they are equal).  v->supported is left as it was otherwise. */
void ctr_verdict(const ctr_reading *r, int reps, ctr_value *v);

/* Closes every descriptor; the set is left closed (fd = -1). */
void ctr_close(ctr_set *s);

#endif
