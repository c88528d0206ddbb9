/* models/exec.h — the execution machinery the model stacks share
 * (models/transformer.c, models/mamba1.c): the timed step that runs a worker
 * function on a pool (or inline as worker 0 of 1), the accounting of
 * caller-thread work into a per-op-class breakdown, and the worker functions
 * of the steps every stack has — RMSNorm, projections (GEMV / GEMM, optional
 * bias) and activation transposes.
 *
 * A breakdown (mx_breakdown) is time and section counts per operator class
 * (mx_op_class), one set of classes for every architecture so that
 * breakdowns of different models compare class by class.
 *
 * Weight matrices are stored as the model's op_wtype (operators/lowp.h):
 * the projection jobs and the embedding lookup convert on the fly (block
 * types: the GEMV runs natively on the quantised bytes, the GEMM and the
 * lookup dequantise).
 *
 * Never: allocate, print, exit, start threads.  The jobs hold borrowed
 * pointers only; the kernel scratch they name belongs to the model. */
#ifndef CTXBENCH_MODELS_EXEC_H
#define CTXBENCH_MODELS_EXEC_H

#include <stddef.h>
#include <stdint.h>

#include "operators/lowp.h"
#include "platforms/pool.h"
#include "util/error.h"

/* Where a forward pass spends its time. */
typedef enum mx_op_class {
    MX_OP_GEMM = 0,  /* GEMM (prefill) and GEMV (decode) projections, LM head */
    MX_OP_ATTN,      /* attention: flash prefill, KV-cache decode and its merge */
    MX_OP_SCAN,      /* SSM scan: selective scan, SSD, and their decode steps */
    MX_OP_CONV,      /* causal conv1d and its step */
    MX_OP_NORM,      /* RMSNorm (gated or not) */
    MX_OP_ELEMWISE,  /* RoPE, SiLU, gating products */
    MX_OP_OTHER,     /* embedding lookup, transposes, residual adds, cache copies */
    MX_OP_N
} mx_op_class;

/* "gemm", "attention", "ssm_scan", "conv", "norm", "elementwise", "other". */
const char *mx_op_class_name(mx_op_class c);

typedef struct mx_breakdown {
    double sec[MX_OP_N]; /* seconds accumulated per class */
    long runs[MX_OP_N];  /* timed sections per class */
} mx_breakdown;

/* Runs one step: fn on every worker of part, or inline as worker 0 of 1
 * when part is NULL (p is then unused); when bd is not NULL, adds its wall
 * time to bd->sec[cls] and 1 to bd->runs[cls].  Returns 0, or -1 with err
 * when pool_run refuses (the time is still accounted). */
int mx_step(mx_breakdown *bd, mx_op_class cls, pool *p, const pool_part *part, pool_fn fn,
            void *ctx, cb_err *err);

/* The start of caller-thread work to account: cb_now_ns() when bd is not
 * NULL, else 0. */
int64_t mx_start(const mx_breakdown *bd);

/* When bd is not NULL, adds the time since t0 (mx_start) to bd->sec[cls]
 * and 1 to bd->runs[cls]: caller-thread work between steps. */
void mx_account(mx_breakdown *bd, mx_op_class cls, int64_t t0);

/* b rounded up to a multiple of 64 (the alignment of every model buffer). */
static inline size_t mx_round64(size_t b) { return (b + 63) & ~(size_t)63; }

/* The one 64-byte-aligned block a stack's weights live in (bytes long,
 * freed with free), or NULL with err ("<who> weights: out of memory (N
 * bytes)"). */
char *mx_weights_block(size_t bytes, const char *who, cb_err *err);

/* Carves a 64-byte-aligned region of bytes from the weight block at *at and
 * advances *at past it: how every stack lays its tensors into one block. */
static inline void *mx_take(char **at, size_t bytes)
{
    void *p = *at;
    *at += mx_round64(bytes);
    return p;
}

/* Makes the kernel scratch *buf (*bytes long, 64-byte aligned, owned by the
 * caller, freed with free) at least need bytes long, dropping its contents
 * when it grows.  Returns 0, or -1 with err ("<who>: out of memory ...") and
 * *buf, *bytes unchanged. */
int mx_scratch_reserve(void **buf, size_t *bytes, size_t need, const char *who, cb_err *err);

/* Embedding lookup: x[i] (d) = tok_emb[tokens[i]] (d) for i < n, converted
 * from the storage type wt; tokens must already be checked against the
 * vocabulary. */
void mx_embed(const void *tok_emb, op_wtype wt, const int *tokens, int n, int d, float *x);

/* Bytes of a matrix of rows x cols elements stored as wt (cols whole
 * blocks of a block type, as model_config_check ensures). */
static inline size_t mx_matrix_bytes(size_t rows, size_t cols, op_wtype wt)
{
    return rows * op_wtype_row_bytes(wt, (int64_t)cols);
}

/* The reference forwards' projection: y (n, m) rows = W (m, k) x rows (n, k)
 * (+ bias), W stored as wt, with op_gemv_w_ref. */
void mx_ref_linear(const void *W, op_wtype wt, const float *bias, const float *x, float *y,
                   int n, int m, int k);

/* Root mean square of x (n), in double: the reference forwards' layer_rms. */
double mx_rms(const float *x, size_t n);

/* ---- jobs and their worker functions (pool_fn) ------------------------------------- */

/* RMSNorm of L rows: y = rmsnorm(x) * w. */
typedef struct mx_norm_job {
    const float *x, *w; /* (L, d), (d) */
    float *y;           /* (L, d) */
    int L, d;
    float eps;
} mx_norm_job;

void mx_norm_worker(void *ctx, int worker, int n_workers);

/* One product y = W x (+ bias): GEMV when the job's n == 0, else the GEMM
 * Y^T (m, n) = W (m, k) X^T (k, n). */
typedef struct mx_proj {
    const void *W;         /* (m, k), stored as the job's wt */
    const float *bias;     /* (m) or NULL */
    const float *x;        /* (k) or (k, n) */
    float *y;              /* (m) or (m, n) */
    int m, k;
} mx_proj;

/* Up to three products in one step; product i of a GEMM uses scratch region
 * i (region bytes each; region may be 0 when n_pr == 1). */
typedef struct mx_proj_job {
    mx_proj pr[3];
    int n_pr;
    int n;         /* 0: GEMV; else the GEMM's n (positions) */
    char *scratch; /* n_pr regions of region bytes; NULL for a GEMV */
    size_t region;
    op_wtype wt;   /* storage of every W of the job (0 = f32 when omitted) */
} mx_proj_job;

void mx_proj_worker(void *ctx, int worker, int n_workers);

/* A job of one product without bias: GEMV y (m) = W (m, k) x (k) when n ==
 * 0, else the GEMM Y^T (m, n) = W X^T (k, n) with scratch; W stored as wt. */
#define MX_PROJ1(W, x, y, m, k, n, scratch, wt) \
    {{{(W), NULL, (x), (y), (m), (k)}}, 1, (n), (scratch), 0, (wt)}

/* A batched transpose dst_b (C, R) (+)= src_b (R, C)^T for b < B; B = 1 with
 * strides 0 is a plain transpose. */
typedef struct mx_transp {
    const float *src;
    float *dst;
    int B, R, C;
    size_t src_bs, dst_bs; /* batch strides in floats */
    int add;               /* 1: dst += src^T (residual) */
} mx_transp;

/* Up to three transposes in one step, each split over its B*C destination
 * rows. */
typedef struct mx_transp_job {
    mx_transp t[3];
    int n_t;
} mx_transp_job;

void mx_transp_worker(void *ctx, int worker, int n_workers);

/* One unbatched transpose dst (C, R) (+)= src (R, C)^T, for an mx_transp_job. */
#define MX_TR(src, dst, R, C, add) {(src), (dst), 1, (R), (C), 0, 0, (add)}

/* Causal depthwise conv1d (operators/conv1d.h) over L tokens (prefill) from
 * s_in (NULL: zeros) with its final state into s_out; or one decode step
 * (L == 0) with the state updated in place in s_out. */
typedef struct mx_conv_job {
    const float *x, *w, *bias; /* (L, C), (C, KW), (C) */
    const float *s_in;         /* (C, KW - 1) or NULL */
    float *out, *s_out;        /* (L, C), (C, KW - 1) */
    int64_t L;
    int C;
    void *scratch;             /* op_conv1d_scratch_bytes(C) per worker (prefill) */
} mx_conv_job;

void mx_conv_worker(void *ctx, int worker, int n_workers);

#endif
