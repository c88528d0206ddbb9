/* platforms/probe.h — roofline probes: sustained memory bandwidth and peak fp32 FLOP/s.
 *
 * Two closures the measurement core times (their step functions match meas_fn
 * in measure.h), each spread over the workers of a pool partition:
 *
 *  - STREAM triad, a[i] = b[i] + s * c[i], in float64 as STREAM does, over
 *    three arrays each much larger than the last-level cache (default
 *    max(4 x LLC, 64 MiB) each), first-touched by the worker that later reads
 *    and writes each slice.  Bytes per pass are counted as STREAM counts them,
 *    3 x 8 bytes per element: the write-allocate read of a[] is not counted.
 *  - An fp32 FMA kernel: PROBE_FMA_ACC independent vector accumulators per
 *    worker, x = x * m + a with a fused multiply-add on the widest vector ISA
 *    compiled in (AVX-512F > AVX2+FMA > NEON > scalar), enough to hide the FMA
 *    latency; FLOPs = 2 x lanes x accumulators x iterations per worker.
 *
 * Both are verified before they are timed: creation runs a pass and checks it
 * (triad elements against b + s*c; FMA lanes bit for bit against a scalar
 * fmaf reference), failing instead of returning a wrong kernel.
 *
 * Never: no timing here (measure.h times the steps), no printing, no SQL. */
#ifndef CTXBENCH_PLATFORMS_PROBE_H
#define CTXBENCH_PLATFORMS_PROBE_H

#include <stddef.h>

#include "platforms/pool.h"
#include "platforms/topo.h"
#include "util/error.h"

/* Independent accumulators (vector registers) per worker in the FMA kernel. */
#define PROBE_FMA_ACC 12

typedef struct probe_triad probe_triad;
typedef struct probe_fma probe_fma;

/* The kernel variant compiled in: "avx512f", "avx2+fma", "neon" or "scalar". */
const char *probe_isa_name(void);

/* ---- STREAM triad ------------------------------------------------------------ */

/* The default bytes per triad array: max(4 x the largest data or unified
 * cache of topo, 64 MiB); 64 MiB when hwloc reports no cache. */
size_t probe_triad_default_bytes(const plat_topo *topo);

/* Allocates the three float64 arrays (bytes_per_array each, rounded down to
 * whole elements; 0 means probe_triad_default_bytes of the pool's topology),
 * first-touches each worker's slice from that worker, runs one pass and
 * verifies it.  part is copied; the pool must outlive the probe.  Returns 0
 * and *out (free with probe_triad_free), or -1 with err (pool without threads,
 * fewer bytes than one element, out of memory, pool_run or verification
 * failure), *out then NULL. */
int probe_triad_create(pool *p, const pool_part *part, size_t bytes_per_array,
                       probe_triad **out, cb_err *err);
void probe_triad_free(probe_triad *t); /* NULL is a no-op */

/* One full triad pass over the arrays on the partition (a meas_fn; ctx is the
 * probe_triad).  Returns 0, or -1 with err when the pool refuses the run. */
int probe_triad_step(void *ctx, cb_err *err);

/* Bytes one pass moves as STREAM counts them: 3 x 8 x elements. */
double probe_triad_bytes(const probe_triad *t);

/* Elements per array. */
size_t probe_triad_elements(const probe_triad *t);

/* The triad's scalar s (3.0). */
double probe_triad_scalar(void);

/* Array 0 (a), 1 (b) or 2 (c) of n elements, owned by t; NULL for another index. */
const double *probe_triad_array(const probe_triad *t, int which);

/* Checks a[i] == b[i] + s*c[i] exactly (values are small integers) on every
 * element when there are at most 65536, else on the ends of every worker's
 * slice and 1024 elements spread over the array.  Returns 0, or -1 with err
 * naming the first wrong element. */
int probe_triad_verify(const probe_triad *t, cb_err *err);

/* ---- peak fp32 FMA ---------------------------------------------------------------- */

/* fp32 lanes per accumulator of the compiled kernel (16, 8, 4 or 1). */
int probe_fma_lanes(void);

/* Floats one worker's kernel leaves behind: lanes x PROBE_FMA_ACC. */
int probe_fma_width(void);

/* Writes into out (probe_fma_width() floats) what every worker's kernel must
 * end with after `iterations` steps, computed one lane at a time with scalar
 * fused multiply-adds.  Costs width x iterations scalar operations. */
void probe_fma_reference(long iterations, float *out);

/* Prepares the kernel for `iterations` steps per worker per pass (<= 0 means
 * 1 << 20) on part (copied; the pool must outlive the probe), then runs and
 * verifies a short pass on every worker.  Returns 0 and *out (free with
 * probe_fma_free), or -1 with err (pool without threads, out of memory,
 * pool_run failure, result differing from the reference), *out then NULL. */
int probe_fma_create(pool *p, const pool_part *part, long iterations, probe_fma **out,
                     cb_err *err);
void probe_fma_free(probe_fma *f); /* NULL is a no-op */

/* One pass: every worker of the partition runs the kernel (a meas_fn; ctx is
 * the probe_fma).  Returns 0, or -1 with err when the pool refuses the run. */
int probe_fma_step(void *ctx, cb_err *err);

/* FLOPs of one pass: 2 x lanes x PROBE_FMA_ACC x iterations x workers. */
double probe_fma_flops(const probe_fma *f);

/* Copies the final accumulators of worker (0..workers-1 within the partition)
 * from the last pass into out (probe_fma_width() floats).  Returns 0, or -1
 * when worker is out of range. */
int probe_fma_result(const probe_fma *f, int worker, float *out);

/* Compares every worker's last result with probe_fma_reference (bit for bit).
 * Costs a reference computation of the full iteration count.  Returns 0, or
 * -1 with err naming the worker and lane. */
int probe_fma_verify(const probe_fma *f, cb_err *err);

#endif
