/* platforms/pool.h — a thread pool bound to hwloc cpusets, and partitions of it.
 *
 * A pool has one worker per PU (hardware thread) of a topology.  On the live
 * machine each worker is a thread bound to its PU's cpuset; a binding the OS
 * refuses is not fatal but recorded per worker (pool_worker(), pool_binding_report())
 * so a run can say so.  On a topology loaded from XML (not this machine) the pool
 * holds the bookkeeping only — workers, cores, kinds, partitions — and no
 * threads: pool_run() then fails.
 *
 * A partition (pool_part) is a list of the pool's workers: all, the first n
 * (distinct cores before SMT siblings), one cpukind, or an explicit OS cpulist.
 * pool_run() runs a function once on every worker of a partition and returns
 * when all are done.  Disjoint partitions may run at the same time from
 * different calling threads; a partition that overlaps one still running is
 * refused with an error, never waited for (so nesting cannot deadlock).
 *
 * Worker states (one atomic flag each): idle -> claimed by pool_run/pool_launch
 * (all of a partition's workers claimed or none) -> released by the same call
 * or by pool_wait once every worker of the partition has finished.
 *
 * Dispatch is cheap: a worker spins a bounded number of pause iterations on
 * its generation counter before sleeping on a condition variable; the caller
 * waits for completion the same way.  pool_run's caller runs share 0 itself,
 * bound to that worker's PU (whose own thread stays idle): a 1-worker run
 * wakes no thread, and a run on every PU does not put the caller on a core
 * with a busy worker.  That binding is sticky — kept for the next run, since
 * re-binding costs microseconds — until pool_release_caller() restores the
 * thread's former affinity.  Worker threads calling pool_run (nesting) and
 * pool_launch never do this; nor does a caller that cannot be bound (the
 * work then goes to the worker thread, as for every other share).
 *
 * Never: no printing, no exit(), no allocation inside pool_run (pool_launch
 * allocates its job), no measurement (see measure.h). */
#ifndef CTXBENCH_PLATFORMS_POOL_H
#define CTXBENCH_PLATFORMS_POOL_H

#include <stddef.h>

#include <hwloc.h>

#include "platforms/topo.h"
#include "util/error.h"

/* The largest pool (PUs) supported; pool_create fails beyond it. */
#define POOL_MAX_WORKERS 512

typedef struct pool pool;
typedef struct pool_job pool_job;

/* What the pool knows of one worker. */
typedef struct pool_worker_info {
    int os_index;        /* OS index of its PU (what sched_getcpu() reports) */
    int core;            /* hwloc logical index of its core, -1 when none */
    int smt_rank;        /* 0 for the first PU of its core, 1 for the next... */
    int kind;            /* index of its cpukind (least performant first), -1 none */
    int bound;           /* 1: the thread is bound to the PU's cpuset */
    char reason[128];    /* why not bound ("" when bound) */
} pool_worker_info;

/* A subset of the pool's workers, in the order they get worker indices. */
typedef struct pool_part {
    int n;                          /* number of workers, >= 1 once made */
    int worker[POOL_MAX_WORKERS];   /* pool worker indices (pool_worker()) */
    char desc[64];                  /* how it was made: "all", "first 2", "kind 0", "cpus 0,2-3" */
} pool_part;

/* The function a partition runs: worker is 0..n_workers-1 within the partition. */
typedef void (*pool_fn)(void *ctx, int worker, int n_workers);

/* Creates a pool over topo, which must outlive the pool.  On the live machine
 * starts one thread per PU and binds it (refusals recorded, not fatal); on a
 * non-live topology starts no thread.  Returns 0 and *out (free with
 * pool_free), or -1 with err (no PUs, too many PUs, out of memory, thread
 * creation failed); on error nothing is left allocated. */
int pool_create(const plat_topo *topo, pool **out, cb_err *err);

/* Stops and joins the threads and frees the pool.  No run may be in flight.
 * NULL is a no-op. */
void pool_free(pool *p);

/* Number of workers (= PUs of the topology). */
int pool_size(const pool *p);

/* How many pause iterations (~25-30 ns each on x86) an idle worker, or a
 * caller waiting for its run, spins before sleeping; the default is ~55 us
 * worth.  A run posted to a sleeping worker pays the OS wake-up (tens of us on
 * a VM); raise this when repetitions are separated by longer gaps (a cache
 * flush, say) and a core burning while idle is acceptable.  Takes effect from
 * each worker's next wait; negative means 0 (sleep at once). */
void pool_set_spin(pool *p, long iterations);
long pool_spin(const pool *p);

/* 1 if the pool has threads (live topology), 0 if bookkeeping only. */
int pool_has_threads(const pool *p);

/* Writes the kernel thread ids (gettid()) of the pool's worker threads, in
 * worker order (pool_worker() index), into tids, at most cap of them; returns
 * how many it wrote: pool_size(p) when cap is at least that, 0 for a pool
 * without threads.  Valid from pool_create until pool_free.  For counting the
 * workers' work from outside them (meas_opts.extra_tids): they exist before
 * any measurement starts, so perf inheritance does not reach them. */
int pool_thread_ids(const pool *p, int *tids, int cap);

/* The topology the pool was made from. */
const plat_topo *pool_topo(const pool *p);

/* Number of cpukinds (>= 1; a machine without hwloc kinds counts as one). */
int pool_n_kinds(const pool *p);

/* Worker w's record, or NULL when w is out of range.  Owned by the pool. */
const pool_worker_info *pool_worker(const pool *p, int w);

/* Number of workers whose binding succeeded (0 without threads). */
int pool_n_bound(const pool *p);

/* Writes a one-line binding summary into buf, e.g. "2/2 workers bound" or
 * "1/2 workers bound; PU 1: hwloc_set_cpubind: Invalid argument" (truncated to
 * cap, always NUL-terminated when cap > 0).  Returns the length it wanted,
 * like snprintf. */
size_t pool_binding_report(const pool *p, char *buf, size_t cap);

/* Partitions.  Each fills *out and returns 0, or returns -1 with err and leaves
 * *out unspecified.  Worker order within a partition: pool_part_all and
 * pool_part_first take one PU per core before any SMT sibling; pool_part_kind
 * in hwloc logical order; pool_part_cpulist in the order listed. */
void pool_part_all(const pool *p, pool_part *out);
int pool_part_first(const pool *p, int n, pool_part *out, cb_err *err);
/* kind: 0 = least performant cpukind ... pool_n_kinds()-1 = most performant. */
int pool_part_kind(const pool *p, int kind, pool_part *out, cb_err *err);
/* list: OS PU indices, e.g. "0,2-3"; fails naming the bad or repeated index. */
int pool_part_cpulist(const pool *p, const char *list, pool_part *out, cb_err *err);

/* Sets set to the union of the partition's PU cpusets. */
void pool_part_cpuset(const pool *p, const pool_part *part, hwloc_bitmap_t set);

/* Writes the partition's OS PU indices as a sorted cpulist ("0-1,4") into buf;
 * returns the length it wanted, like snprintf. */
size_t pool_part_cpulist_str(const pool *p, const pool_part *part, char *buf, size_t cap);

/* Runs fn(ctx, i, part->n) on the i-th worker of part for every i and returns
 * 0 once all have returned.  Share 0 runs on the calling thread, bound (and
 * left bound) to the first worker's PU, when it can be (see above).  Returns
 * -1 with err (nothing run) when the pool has no threads, part is empty or not
 * of this pool, or one of its workers is busy with another partition's run. */
int pool_run(pool *p, const pool_part *part, pool_fn fn, void *ctx, cb_err *err);

/* Restores the calling thread's CPU affinity from before its first pool_run
 * bound it to a PU.  A no-op in a thread pool_run never bound. */
void pool_release_caller(void);

/* Starts the same work without waiting: returns 0 and *job, which the caller
 * must pass to pool_wait exactly once; or -1 with err as pool_run (plus out of
 * memory), *job then NULL.  part is copied. */
int pool_launch(pool *p, const pool_part *part, pool_fn fn, void *ctx, pool_job **job,
                cb_err *err);

/* Waits until every worker of the launched job has finished, releases the
 * workers and frees job.  NULL is a no-op. */
void pool_wait(pool_job *job);

#endif
