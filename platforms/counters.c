/* platforms/counters.c — perf_event_open(2) counters for the measurement core
 * (see counters.h for the lifecycle of a ctr_set).
 *
 * Each event is opened on its own (not as a group), so one missing event never
 * hides the others and every counter carries its own verdict: supported, or
 * unsupported with the errno text (a machine without a PMU answers ENOENT or
 * EOPNOTSUPP for the hardware events).  Hardware events count user space only
 * (exclude_kernel, exclude_hv): the closure's own work.
 *
 * Never: report a counter that did not count as zero, print, or allocate. */
#include "platforms/counters.h"

#include <errno.h>
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
    for (int i = 0; i < CTR_COUNT; i++)
        s->fd[i] = -1;
}

static int ctr_open_one(const ctr_def *d, int exclude_kernel)
{
    struct perf_event_attr a;
    memset(&a, 0, sizeof a);
    a.size = sizeof a;
    a.type = d->type;
    a.config = d->config;
    a.disabled = 1;
    a.inherit = 1; /* threads created later by the closure count too */
    a.exclude_kernel = (unsigned)exclude_kernel;
    a.exclude_hv = 1;
    a.read_format = PERF_FORMAT_TOTAL_TIME_ENABLED | PERF_FORMAT_TOTAL_TIME_RUNNING;
    return (int)syscall(SYS_perf_event_open, &a, 0 /* this process */, -1 /* any cpu */,
                        -1 /* no group */, PERF_FLAG_FD_CLOEXEC);
}

void ctr_open(ctr_set *s, ctr_value vals[CTR_COUNT])
{
    ctr_mark_all(vals, "");
    for (int i = 0; i < CTR_COUNT; i++) {
        const ctr_def *d = &ctr_defs[i];
        int hw = d->type == PERF_TYPE_HARDWARE;
        s->fd[i] = ctr_open_one(d, hw);
        if (s->fd[i] < 0 && !hw && d->user_fallback && (errno == EACCES || errno == EPERM))
            s->fd[i] = ctr_open_one(d, 1); /* perf_event_paranoid forbids kernel counting */
        if (s->fd[i] < 0)
            ctr_set_reason(&vals[i], "perf_event_open", errno);
        else
            vals[i].supported = 1;
    }
}

/* Enables in ctr_id order and disables in reverse, so task-clock (last, and
 * the one counter that also counts kernel time) is on for the shortest span:
 * it does not see the other counters' enable and disable ioctls. */
_Static_assert(CTR_TASK_CLOCK == CTR_COUNT - 1, "task-clock must be enabled last");

static void ctr_enable_all(const ctr_set *s)
{
    for (int i = 0; i < CTR_COUNT; i++)
        if (s->fd[i] >= 0)
            ioctl(s->fd[i], PERF_EVENT_IOC_ENABLE, 0);
}

static void ctr_disable_all(const ctr_set *s)
{
    for (int i = CTR_COUNT - 1; i >= 0; i--)
        if (s->fd[i] >= 0)
            ioctl(s->fd[i], PERF_EVENT_IOC_DISABLE, 0);
}

void ctr_start(const ctr_set *s)
{
    for (int i = 0; i < CTR_COUNT; i++)
        if (s->fd[i] >= 0)
            ioctl(s->fd[i], PERF_EVENT_IOC_RESET, 0);
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

void ctr_verdict(const ctr_reading *r, int reps, ctr_value *v)
{
    if (r->time_running == 0) {
        v->supported = 0;
        v->per_rep = 0;
        snprintf(v->reason, sizeof v->reason, "not scheduled");
        return;
    }
    double value = (double)r->value;
    if (r->time_running < r->time_enabled) /* multiplexed: extrapolate */
        value *= (double)r->time_enabled / (double)r->time_running;
    v->per_rep = reps > 0 ? value / reps : 0;
}

void ctr_read(const ctr_set *s, int reps, ctr_value vals[CTR_COUNT])
{
    for (int i = 0; i < CTR_COUNT; i++) {
        if (s->fd[i] < 0)
            continue;
        ctr_reading r;
        ssize_t got = read(s->fd[i], &r, sizeof r);
        if (got != (ssize_t)sizeof r) {
            ctr_set_reason(&vals[i], "read", got < 0 ? errno : EIO);
            continue;
        }
        ctr_verdict(&r, reps, &vals[i]);
    }
}

void ctr_close(ctr_set *s)
{
    for (int i = 0; i < CTR_COUNT; i++) {
        if (s->fd[i] >= 0)
            close(s->fd[i]);
        s->fd[i] = -1;
    }
}
