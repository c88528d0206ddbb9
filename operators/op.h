/* operators/op.h — the operator registry: how experiments and tests name,
 * size, cost, build, run and verify an operator without knowing its code.
 *
 * Every registry entry is one implementation of one operator in one phase,
 * named "<operator>.<impl>", e.g. "attention.flash" (prefill, fused online
 * softmax), "attention.kvcache" (decode against a KV cache), "mamba1_scan.step".
 *
 * An entry's kernels are leaves (pointers and sizes in, no allocation, no I/O:
 * see the family's header); the entry's create() is where buffers are
 * allocated and filled with deterministic inputs, so that run() can be timed
 * alone.  run() computes one worker's share of the fast implementation; a
 * caller runs it on every worker of a pool partition.  verify() computes the
 * plain reference (in full, or for a spread of heads/rows/channels when the
 * full reference would cost far more than one run) and compares it with what
 * the last run() left, within the entry's stated tolerance.
 *
 * Shapes: batch 1, fp32 unless the entry says otherwise, causal.
 *   seq_len     L: prefill length, or the context (KV cache / history) length
 *               a decode step attends over
 *   n_heads     H query heads (attention-like) or SSM heads (Mamba-2)
 *   n_kv_heads  KV heads for grouped-query attention (divides n_heads)
 *   head_dim    D per head (P for Mamba-2 heads)
 *   d_model     model width (dense and elementwise operators)
 *   d_inner     SSM channels (Mamba-1: expand x d_model; conv1d channels)
 *   d_state     N, the SSM state size per channel (Mamba-1) or per head (Mamba-2)
 *   chunk       chunk length of chunked forms; 0 = the entry's default
 *
 * Never: no SQL, no printing, no timing (the measurement core times run()). */
#ifndef CTXBENCH_OPERATORS_OP_H
#define CTXBENCH_OPERATORS_OP_H

#include <stdint.h>

#include "util/error.h"

typedef struct op_dims {
    int64_t seq_len;
    int n_heads, n_kv_heads, head_dim;
    int d_model, d_inner, d_state;
    int chunk;
} op_dims;

/* The cost model of one run() over all workers. */
typedef struct op_cost {
    double flops;       /* floating-point (or integer MAC x 2) operations */
    double bytes;       /* minimum bytes moved from memory: inputs read once, outputs written once */
    double state_bytes; /* resident state: KV cache, SSM state, conv history; 0 when none */
} op_cost;

typedef struct op_entry {
    const char *name;     /* "<operator>.<impl>" */
    const char *op;       /* operator, e.g. "attention", "linear_attention", "mamba1_scan" */
    const char *impl;     /* e.g. "naive", "flash", "recurrent", "chunked", "step" */
    const char *family;   /* "quadratic", "sub-quadratic", "dense" or "elementwise" */
    const char *phase;    /* "prefill" or "decode" */
    const char *uses;     /* which op_dims fields it reads, e.g. "seq_len n_heads n_kv_heads head_dim" */
    double tolerance;     /* what verify() accepts, as documented in the family's header */

    /* Checks the shape: every used field in range, divisibility (heads by KV
     * heads), and that every buffer's size fits (no overflow).  Returns 0, or
     * -1 with err naming the field. */
    int (*check)(const op_dims *d, cb_err *err);
    /* The cost model; only called on a checked shape. */
    op_cost (*cost)(const op_dims *d);
    /* Allocates and fills (from seed, deterministically) the inputs, outputs,
     * state and the scratch of up to max_workers workers.  Returns 0 and an
     * instance, or -1 with err (bad shape, out of memory). */
    int (*create)(const op_dims *d, uint64_t seed, int max_workers, void **inst, cb_err *err);
    /* The fast implementation: worker's share (0..n_workers-1, n_workers <=
     * max_workers).  Every worker of one call must run before the output is read. */
    void (*run)(void *inst, int worker, int n_workers);
    /* Compares the last run()'s output with the reference.  Returns 0, or -1
     * with err naming the operator, the first element out of tolerance, its
     * value and the reference's. */
    int (*verify)(void *inst, cb_err *err);
    void (*destroy)(void *inst); /* NULL is a no-op */
} op_entry;

/* The entry with this name, or NULL. */
const op_entry *op_find(const char *name);

/* Every entry, NULL-terminated, in registry order. */
const op_entry *const *op_all(void);

/* op_find, then check: -1 with err for an unknown name ("unknown operator
 * 'x'") or a bad shape (prefixed with the name). */
int op_lookup_checked(const char *name, const op_dims *d, const op_entry **out, cb_err *err);

/* Shared shape checks for entries: a positive field no larger than max
 * (err names the field), and a product of sizes that fits in a size_t of
 * bytes (elem_bytes x a x b x ...; n_factors values).  Return 0 or -1. */
int op_check_range(const char *field, int64_t value, int64_t max, cb_err *err);
int op_check_bytes(const char *what, size_t elem_bytes, int n_factors, const int64_t *factors,
                   cb_err *err);

/* Deterministic uniform values in [lo, hi) from a seed (xorshift64*), for
 * create().  Cannot fail. */
void op_fill_uniform(float *x, size_t n, uint64_t seed, float lo, float hi);

#endif
