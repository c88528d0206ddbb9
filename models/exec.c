/* models/exec.c — the shared execution machinery of the model stacks
 * (models/exec.h): the timed step, caller-thread accounting, and the
 * RMSNorm, projection and transpose workers.
 *
 * Never: allocate, print, exit, start threads. */
#include "models/exec.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "operators/conv1d.h"
#include "operators/elementwise.h"
#include "operators/gemm.h"
#include "operators/lowp.h"
#include "util/clock.h"

const char *mx_op_class_name(mx_op_class c)
{
    static const char *const names[MX_OP_N] = {"gemm", "attention",   "ssm_scan", "conv",
                                               "norm", "elementwise", "other"};
    return (unsigned)c < MX_OP_N ? names[c] : "?";
}

int mx_step(mx_breakdown *bd, mx_op_class cls, pool *p, const pool_part *part, pool_fn fn,
            void *ctx, cb_err *err)
{
    int64_t t0 = mx_start(bd);
    int rc = 0;
    if (part)
        rc = pool_run(p, part, fn, ctx, err);
    else
        fn(ctx, 0, 1);
    mx_account(bd, cls, t0);
    return rc;
}

int64_t mx_start(const mx_breakdown *bd) { return bd ? cb_now_ns() : 0; }

void mx_account(mx_breakdown *bd, mx_op_class cls, int64_t t0)
{
    if (bd) {
        bd->sec[cls] += (double)(cb_now_ns() - t0) * 1e-9;
        bd->runs[cls]++;
    }
}

char *mx_weights_block(size_t bytes, const char *who, cb_err *err)
{
    void *block = NULL;
    if (posix_memalign(&block, 64, bytes) != 0) {
        cb_fail(err, "%s weights: out of memory (%zu bytes)", who, bytes);
        return NULL;
    }
    return block;
}

int mx_scratch_reserve(void **buf, size_t *bytes, size_t need, const char *who, cb_err *err)
{
    if (need <= *bytes)
        return 0;
    void *p = NULL;
    if (posix_memalign(&p, 64, mx_round64(need)) != 0)
        return cb_fail(err, "%s: out of memory for %zu bytes of kernel scratch", who, need);
    free(*buf);
    *buf = p;
    *bytes = mx_round64(need);
    return 0;
}

void mx_embed(const void *tok_emb, op_wtype wt, const int *tokens, int n, int d, float *x)
{
    size_t row = mx_matrix_bytes(1, (size_t)d, wt);
    for (int i = 0; i < n; i++)
        op_w_to_f32((const char *)tok_emb + (size_t)tokens[i] * row, wt, x + (size_t)i * d,
                    (size_t)d);
}

void mx_ref_linear(const void *W, op_wtype wt, const float *bias, const float *x, float *y,
                   int n, int m, int k)
{
    for (int i = 0; i < n; i++) {
        op_gemv_w_ref(W, wt, x + (size_t)i * k, y + (size_t)i * m, m, k);
        if (bias)
            for (int t = 0; t < m; t++)
                y[(size_t)i * m + t] += bias[t];
    }
}

double mx_rms(const float *x, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)x[i] * x[i];
    return sqrt(s / (double)n);
}

void mx_norm_worker(void *ctx, int worker, int n_workers)
{
    mx_norm_job *j = ctx;
    op_rmsnorm_part(j->x, j->w, j->y, j->L, j->d, j->eps, worker, n_workers);
}

void mx_proj_worker(void *ctx, int worker, int n_workers)
{
    mx_proj_job *j = ctx;
    for (int i = 0; i < j->n_pr; i++) {
        const mx_proj *r = &j->pr[i];
        int lo, hi;
        if (j->n == 0) {
            op_gemv_w_part(r->W, j->wt, r->x, r->y, r->m, r->k, worker, n_workers);
            if (r->bias) {
                op_gemv_rows(r->m, worker, n_workers, &lo, &hi);
                for (int t = lo; t < hi; t++)
                    r->y[t] += r->bias[t];
            }
        } else {
            op_gemm_w_part(r->W, j->wt, r->x, r->y, r->m, j->n, r->k,
                           j->scratch + (size_t)i * j->region, worker, n_workers);
            if (r->bias) {
                op_gemm_rows(r->m, worker, n_workers, &lo, &hi);
                for (int t = lo; t < hi; t++) {
                    float b = r->bias[t], *row = r->y + (size_t)t * j->n;
                    for (int c = 0; c < j->n; c++)
                        row[c] += b;
                }
            }
        }
    }
}

void mx_conv_worker(void *ctx, int worker, int n_workers)
{
    mx_conv_job *j = ctx;
    if (j->L == 0)
        op_conv1d_step_part(j->x, j->w, j->bias, j->s_out, j->out, j->s_out, j->C, worker,
                            n_workers);
    else
        op_conv1d_causal_part(j->x, j->w, j->bias, j->s_in, j->out, j->s_out, j->L, j->C,
                              j->scratch, worker, n_workers);
}

/* Destination rows are taken in blocks of TB: for each source row r, the TB
 * contiguous source values of the block go to column r of TB destination
 * rows, so reads are whole cache lines and writes TB sequential streams. */
#define TB 16

void mx_transp_worker(void *ctx, int worker, int n_workers)
{
    mx_transp_job *j = ctx;
    for (int i = 0; i < j->n_t; i++) {
        const mx_transp *t = &j->t[i];
        int lo, hi;
        op_ew_rows(t->B * t->C, worker, n_workers, &lo, &hi);
        for (int row = lo; row < hi;) {
            int b = row / t->C, c0 = row % t->C;
            int nb = t->C - c0 < TB ? t->C - c0 : TB;
            if (nb > hi - row)
                nb = hi - row;
            const float *s = t->src + (size_t)b * t->src_bs + c0;
            float *dr = t->dst + (size_t)b * t->dst_bs + (size_t)c0 * t->R;
            for (int r = 0; r < t->R; r++) {
                const float *sr = s + (size_t)r * t->C;
                if (t->add)
                    for (int c = 0; c < nb; c++)
                        dr[(size_t)c * t->R + r] += sr[c];
                else
                    for (int c = 0; c < nb; c++)
                        dr[(size_t)c * t->R + r] = sr[c];
            }
            row += nb;
        }
    }
}
