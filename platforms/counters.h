/* platforms/counters.h — private to the measurement core: hardware and software
 * counters through perf_event_open(2), one event per file descriptor and thread.
 *
 * What is counted: the calling thread, the threads it (and they) create after
 * ctr_open() (inherit=1), and the already existing threads of this process
 * named to ctr_open() ("extra" tids, e.g. a thread pool's workers:
 * pool_thread_ids()).  An existing thread that is not named is NOT counted:
 * perf inheritance happens at clone time.  Each counter is opened once per
 * counted thread and the readings are summed.
 *
 * Lifecycle of a ctr_set:
 *   ctr_init()   every descriptor -1 (closed); ctr_close() is then safe.
 *   ctr_open()   every event is opened disabled on every counted thread; each
 *                counter gets its own verdict (supported, or unsupported with
 *                the reason) in vals[].
 *   ctr_start()  reset and enable every opened event (just before the timed loop).
 *   ctr_pause() / ctr_resume()  disable / re-enable without resetting (around
 *                untimed work inside the loop, e.g. a cache flush).
 *   ctr_stop()   disable (just after the timed loop).
 *   ctr_read()   read, scale each thread's reading for multiplexing, sum,
 *                divide by the repetitions.
 *   ctr_close()  close every descriptor; safe on an initialised or half-opened set.
 * Invariant: a counter is open on every counted thread or on none (a counter
 * that fails to open on one thread is closed on all and marked unsupported),
 * so a supported counter never silently misses a thread.
 *
 * Never: fail the measurement because a counter is missing (that is a verdict,
 * not an error), print, or allocate (hence the fixed CTR_MAX_THREADS). */
#ifndef CTXBENCH_PLATFORMS_COUNTERS_H
#define CTXBENCH_PLATFORMS_COUNTERS_H

#include <stdint.h>

#include "platforms/measure.h"

/* What read(2) returns with our read_format (TOTAL_TIME_ENABLED|RUNNING). */
typedef struct ctr_reading {
    uint64_t value, time_enabled, time_running;
} ctr_reading;

/* The most extra threads a set counts besides the calling one.  Each counted
 * thread costs CTR_COUNT descriptors: 64 keeps a set under 600, well inside
 * the usual 1024 open-file limit.  More extra threads than this is a verdict,
 * not an error: ctr_open() then counts nothing and marks every counter
 * unsupported ("too many threads to count"), rather than report a sum that
 * silently misses threads. */
#define CTR_MAX_THREADS MEAS_MAX_EXTRA_TIDS

typedef struct ctr_set {
    int n_threads;                          /* counted threads: 1 (the caller) + extra */
    int tid[CTR_MAX_THREADS + 1];           /* (n_threads) [0] = 0: the calling thread */
    int fd[CTR_COUNT][CTR_MAX_THREADS + 1]; /* (counter, thread) -1 when not opened */
} ctr_set;

/* Marks every descriptor closed (-1), counting the calling thread only; call
 * before anything else. */
void ctr_init(ctr_set *s);

/* Marks every counter unsupported with `reason` and fills names and units. */
void ctr_mark_all(ctr_value vals[CTR_COUNT], const char *reason);

/* Opens each counter separately, disabled, on the calling thread (pid 0,
 * inherit=1) and on each of the n_tids existing threads in tids (NULL when
 * n_tids is 0).  The calling thread's own tid and repeats in tids are skipped
 * (already counted).  Fills vals[] with names, units and a verdict per
 * counter; never fails.  A counter is supported only if it opened on every
 * counted thread; otherwise it is unsupported with the reason, naming the tid
 * when an extra thread failed ("perf_event_open(tid 123): ...").  A tid that is
 * not a thread of this process, or more than CTR_MAX_THREADS extra threads,
 * marks every counter unsupported and opens nothing.  Call ctr_close()
 * afterwards. */
void ctr_open(ctr_set *s, const int *tids, int n_tids, ctr_value vals[CTR_COUNT]);

void ctr_start(const ctr_set *s);
void ctr_pause(const ctr_set *s);
void ctr_resume(const ctr_set *s);
void ctr_stop(const ctr_set *s);

/* Reads every opened counter on every counted thread into vals[].per_rep:
 * the sum over threads of each reading (scaled by time_enabled / time_running
 * when multiplexed), divided by reps; see ctr_verdict_threads().  A failed
 * read makes the counter unsupported with the reason. */
void ctr_read(const ctr_set *s, int reps, ctr_value vals[CTR_COUNT]);

/* One counter's verdict from its reading: time_running == 0 (never scheduled,
 * multiplexed out) makes it unsupported with reason "not scheduled";
 * otherwise per_rep = value * time_enabled / time_running / reps (no scaling
 * when they are equal).  v->supported is left as it was otherwise. */
void ctr_verdict(const ctr_reading *r, int reps, ctr_value *v);

/* One counter's verdict from its readings on n threads (tid[t] names thread t
 * in reasons; r[0] and tid[0] are the calling thread).  r[0] is judged as by
 * ctr_verdict.  Every other reading is scaled on its own and added; one with
 * time_enabled == 0 adds 0 (that thread never ran while counting: a per-thread
 * event's times only advance while its thread is on a CPU); one that ran but
 * was never scheduled makes the counter unsupported with reason "not scheduled
 * on tid N".  per_rep = sum / reps. */
void ctr_verdict_threads(const ctr_reading *r, const int *tid, int n, int reps, ctr_value *v);

/* Closes every descriptor; the set is left closed (fd = -1). */
void ctr_close(ctr_set *s);

#endif
