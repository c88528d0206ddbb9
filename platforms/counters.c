/* platforms/counters.c — perf_event_open(2) counters for the measurement core
 * (see counters.h for the lifecycle of a ctr_set).
 *
 * Each event is opened on its own (not as a group), so one missing event never
 * hides the others and every counter carries its own verdict: supported, or
 * unsupported with the errno text (a machine without a PMU answers ENOENT or
 * EOPNOTSUPP for the hardware events).  Hardware events count user space only
 * (exclude_kernel, exclude_hv): the closure's own work.
 *
 * Threads: each event is opened on the calling thread (pid 0, inherit=1) and
 * once more on every extra thread (pid = its tid, same attributes), after
 * checking with tgkill(getpid(), tid, 0) that the tid is a thread of this
 * process (a stale or foreign tid would count someone else's work).  An extra
 * thread uses whatever kernel/user choice the calling thread's event got, so
 * all readings of one counter measure the same thing.
 *
 * Never: report a counter that did not count as zero, print, or allocate. */
#include "platforms/counters.h"

#include <errno.h>
#include <signal.h>
#include <linux/perf_event.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

typedef struct ctr_def {
    const char *name;
    const char *unit;
    uint32_t type;     /* PERF_TYPE_HARDWARE or PERF_TYPE_SOFTWARE */
    uint64_t config;
    int user_fallback; /* 1: if kernel counting is refused, user-only still means something */
} ctr_def;

/* Indexed by ctr_id.  Context switches happen in the kernel: counted user-only
 * they would read a silent zero, so they get no user-only fallback. */
static const ctr_def ctr_defs[CTR_COUNT] = {
    [CTR_CYCLES] = {"cycles", "count", PERF_TYPE_HARDWARE, PERF_COUNT_HW_CPU_CYCLES, 0},
    [CTR_INSTRUCTIONS] = {"instructions", "count", PERF_TYPE_HARDWARE, PERF_COUNT_HW_INSTRUCTIONS, 0},
    [CTR_CACHE_REFERENCES] = {"cache-references", "count", PERF_TYPE_HARDWARE,
                              PERF_COUNT_HW_CACHE_REFERENCES, 0},
    [CTR_CACHE_MISSES] = {"cache-misses", "count", PERF_TYPE_HARDWARE, PERF_COUNT_HW_CACHE_MISSES, 0},
    [CTR_STALLED_BACKEND] = {"stalled-cycles-backend", "count", PERF_TYPE_HARDWARE,
                             PERF_COUNT_HW_STALLED_CYCLES_BACKEND, 0},
    [CTR_STALLED_FRONTEND] = {"stalled-cycles-frontend", "count", PERF_TYPE_HARDWARE,
                              PERF_COUNT_HW_STALLED_CYCLES_FRONTEND, 0},
    [CTR_PAGE_FAULTS] = {"page-faults", "count", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_PAGE_FAULTS, 1},
    [CTR_CONTEXT_SWITCHES] = {"context-switches", "count", PERF_TYPE_SOFTWARE,
                              PERF_COUNT_SW_CONTEXT_SWITCHES, 0},
    [CTR_TASK_CLOCK] = {"task-clock", "ns", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_TASK_CLOCK, 1},
};

static void ctr_set_reason(ctr_value *v, const char *what, int errnum)
{
    char buf[64];
    const char *msg = strerror_r(errnum, buf, sizeof buf); /* GNU variant */
    v->supported = 0;
    v->per_rep = 0;
    snprintf(v->reason, sizeof v->reason, "%s: %s", what, msg);
}

void ctr_mark_all(ctr_value vals[CTR_COUNT], const char *reason)
{
    for (int i = 0; i < CTR_COUNT; i++) {
        vals[i].name = ctr_defs[i].name;
        vals[i].unit = ctr_defs[i].unit;
        vals[i].supported = 0;
        vals[i].per_rep = 0;
        snprintf(vals[i].reason, sizeof vals[i].reason, "%s", reason);
    }
}

void ctr_init(ctr_set *s)
{
    s->n_threads = 1;
    s->tid[0] = 0;
    for (int i = 0; i < CTR_COUNT; i++)
        for (int t = 0; t <= CTR_MAX_THREADS; t++)
            s->fd[i][t] = -1;
}

/* Opens d on thread tid (0: the calling thread), disabled; a descriptor or -1
 * with errno. */
static int ctr_open_one(const ctr_def *d, int tid, int exclude_kernel)
{
    struct perf_event_attr a;
    memset(&a, 0, sizeof a);
    a.size = sizeof a;
    a.type = d->type;
    a.config = d->config;
    a.disabled = 1;
    a.inherit = 1; /* threads created later by a counted thread count too */
    a.exclude_kernel = (unsigned)exclude_kernel;
    a.exclude_hv = 1;
    a.read_format = PERF_FORMAT_TOTAL_TIME_ENABLED | PERF_FORMAT_TOTAL_TIME_RUNNING;
    return (int)syscall(SYS_perf_event_open, &a, tid, -1 /* any cpu */, -1 /* no group */,
                        PERF_FLAG_FD_CLOEXEC);
}

/* Closes counter i on every counted thread. */
static void ctr_close_row(ctr_set *s, int i)
{
    for (int t = 0; t < s->n_threads; t++) {
        if (s->fd[i][t] >= 0)
            close(s->fd[i][t]);
        s->fd[i][t] = -1;
    }
}

/* Opens counter i on every counted thread, or on none: fills v's verdict. */
static void ctr_open_row(ctr_set *s, int i, ctr_value *v)
{
    const ctr_def *d = &ctr_defs[i];
    int hw = d->type == PERF_TYPE_HARDWARE, excl = hw;
    s->fd[i][0] = ctr_open_one(d, 0, excl);
    if (s->fd[i][0] < 0 && !hw && d->user_fallback && (errno == EACCES || errno == EPERM)) {
        excl = 1; /* perf_event_paranoid forbids kernel counting */
        s->fd[i][0] = ctr_open_one(d, 0, excl);
    }
    if (s->fd[i][0] < 0) {
        ctr_set_reason(v, "perf_event_open", errno);
        return;
    }
    for (int t = 1; t < s->n_threads; t++) {
        s->fd[i][t] = ctr_open_one(d, s->tid[t], excl);
        if (s->fd[i][t] < 0) {
            char what[48];
            int e = errno;
            snprintf(what, sizeof what, "perf_event_open(tid %d)", s->tid[t]);
            ctr_set_reason(v, what, e);
            ctr_close_row(s, i);
            return;
        }
    }
    v->supported = 1;
}

/* Records the extra tids to count in s (skipping the caller's and repeats).
 * Returns 0, or -1 with every counter of vals marked unsupported. */
static int ctr_take_tids(ctr_set *s, const int *tids, int n_tids, ctr_value vals[CTR_COUNT])
{
    char why[96];
    int self = (int)syscall(SYS_gettid);
    if (n_tids > CTR_MAX_THREADS) {
        snprintf(why, sizeof why, "too many threads to count: %d besides the caller, at most %d",
                 n_tids, CTR_MAX_THREADS);
        ctr_mark_all(vals, why);
        return -1;
    }
    for (int k = 0; k < n_tids; k++) {
        int tid = tids[k], seen = tid == self;
        for (int t = 1; t < s->n_threads && !seen; t++)
            seen = s->tid[t] == tid;
        if (seen)
            continue;
        if (syscall(SYS_tgkill, (int)getpid(), tid, 0) != 0) {
            char buf[64];
            const char *msg = strerror_r(errno, buf, sizeof buf);
            snprintf(why, sizeof why, "tid %d is not a thread of this process: %s", tid, msg);
            ctr_mark_all(vals, why);
            s->n_threads = 1;
            return -1;
        }
        s->tid[s->n_threads++] = tid;
    }
    return 0;
}

void ctr_open(ctr_set *s, const int *tids, int n_tids, ctr_value vals[CTR_COUNT])
{
    ctr_mark_all(vals, "");
    s->n_threads = 1;
    if (n_tids > 0 && ctr_take_tids(s, tids, n_tids, vals) != 0)
        return;
    for (int i = 0; i < CTR_COUNT; i++)
        ctr_open_row(s, i, &vals[i]);
}

/* Enables in ctr_id order and disables in reverse, so task-clock (last, and
 * the one counter that may also count kernel time) is on for the shortest
 * span: it does not see the other counters' enable and disable ioctls.  Within
 * a counter the calling thread's event (the one that sees these ioctls) is
 * enabled last and disabled first for the same reason. */
_Static_assert(CTR_TASK_CLOCK == CTR_COUNT - 1, "task-clock must be enabled last");

static void ctr_enable_all(const ctr_set *s)
{
    for (int i = 0; i < CTR_COUNT; i++)
        for (int t = s->n_threads - 1; t >= 0; t--)
            if (s->fd[i][t] >= 0)
                ioctl(s->fd[i][t], PERF_EVENT_IOC_ENABLE, 0);
}

static void ctr_disable_all(const ctr_set *s)
{
    for (int i = CTR_COUNT - 1; i >= 0; i--)
        for (int t = 0; t < s->n_threads; t++)
            if (s->fd[i][t] >= 0)
                ioctl(s->fd[i][t], PERF_EVENT_IOC_DISABLE, 0);
}

void ctr_start(const ctr_set *s)
{
    for (int i = 0; i < CTR_COUNT; i++)
        for (int t = 0; t < s->n_threads; t++)
            if (s->fd[i][t] >= 0)
                ioctl(s->fd[i][t], PERF_EVENT_IOC_RESET, 0);
    ctr_enable_all(s);
}

void ctr_pause(const ctr_set *s)
{
    ctr_disable_all(s);
}

void ctr_resume(const ctr_set *s)
{
    ctr_enable_all(s);
}

void ctr_stop(const ctr_set *s)
{
    ctr_disable_all(s);
}

/* value * time_enabled / time_running (extrapolated when multiplexed);
 * r->time_running must be > 0. */
static double ctr_scaled(const ctr_reading *r)
{
    double value = (double)r->value;
    if (r->time_running < r->time_enabled)
        value *= (double)r->time_enabled / (double)r->time_running;
    return value;
}

static void ctr_not_scheduled(ctr_value *v, int tid)
{
    v->supported = 0;
    v->per_rep = 0;
    if (tid > 0)
        snprintf(v->reason, sizeof v->reason, "not scheduled on tid %d", tid);
    else
        snprintf(v->reason, sizeof v->reason, "not scheduled");
}

void ctr_verdict_threads(const ctr_reading *r, const int *tid, int n, int reps, ctr_value *v)
{
    double sum = 0;
    for (int t = 0; t < n; t++) {
        if (t > 0 && r[t].time_enabled == 0)
            continue; /* that thread never ran while counting: it adds 0 */
        if (r[t].time_running == 0) {
            ctr_not_scheduled(v, t > 0 ? tid[t] : 0);
            return;
        }
        sum += ctr_scaled(&r[t]);
    }
    v->per_rep = reps > 0 ? sum / reps : 0;
}

void ctr_verdict(const ctr_reading *r, int reps, ctr_value *v)
{
    ctr_verdict_threads(r, NULL, 1, reps, v);
}

/* Reads counter i on every counted thread into r (n_threads); 0, or -1 with
 * v marked unsupported. */
static int ctr_read_row(const ctr_set *s, int i, ctr_reading *r, ctr_value *v)
{
    for (int t = 0; t < s->n_threads; t++) {
        ssize_t got = read(s->fd[i][t], &r[t], sizeof r[t]);
        if (got != (ssize_t)sizeof r[t]) {
            char what[32];
            int e = got < 0 ? errno : EIO;
            if (t > 0)
                snprintf(what, sizeof what, "read(tid %d)", s->tid[t]);
            else
                snprintf(what, sizeof what, "read");
            ctr_set_reason(v, what, e);
            return -1;
        }
    }
    return 0;
}

void ctr_read(const ctr_set *s, int reps, ctr_value vals[CTR_COUNT])
{
    ctr_reading r[CTR_MAX_THREADS + 1];
    for (int i = 0; i < CTR_COUNT; i++) {
        if (s->fd[i][0] < 0)
            continue;
        if (ctr_read_row(s, i, r, &vals[i]) == 0)
            ctr_verdict_threads(r, s->tid, s->n_threads, reps, &vals[i]);
    }
}

void ctr_close(ctr_set *s)
{
    for (int i = 0; i < CTR_COUNT; i++)
        ctr_close_row(s, i);
    s->n_threads = 1;
}
