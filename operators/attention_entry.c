/* operators/attention_entry.c — the registry entries of causal softmax
 * attention (op_family_attention): attention.naive and attention.flash
 * (prefill) and attention.kvcache (decode), over the kernels of attention.h.
 *
 * Each entry checks shapes, states its cost, allocates and fills its buffers
 * in create() (deterministic from the seed: q and k uniform in [-2, 2), so
 * scaled scores have a standard deviation of ~1.3 and the softmax is neither
 * flat nor one-hot; v uniform in [-1, 1)), runs one worker's share of the
 * fast kernel in run(), and compares with the double reference in verify().
 *
 * Buffers of 4 MiB or more are asked to be backed by transparent huge pages
 * (madvise): streaming a long KV cache through 4 KiB pages costs ~10% of
 * the decode step's bandwidth on the reference machine.
 *
 * attention.kvcache: create() fills a KV cache of L positions (slot L, the
 * new token's, is written by every run with the same k_new, v_new, so
 * repeated runs do the same work and the state stays bounded).  When the
 * split cuts a KV head (n_kv_heads not a multiple of n_workers) the last
 * worker to finish its part — counted with an atomic in the instance —
 * merges the partials, so a run needs no barrier.
 *
 * Never: print, time, or call anything but the kernels and op.h's helpers in
 * run(); never write outside the instance. */
#include "operators/attention.h"

#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "operators/op.h"

#define ATTN_MAX_L ((int64_t)1 << 24) /* positions (prefill length or cache) */
#define ATTN_MAX_HEADS 4096

/* The verify spread: at most this many heads, and rows per head. */
#define VERIFY_HEADS 4
#define VERIFY_ROWS 32
/* Below this many reference multiply-adds, verify() checks everything. */
#define VERIFY_FULL_MACS ((double)(1 << 26))

typedef struct attn_inst {
    const op_entry *entry;
    int H, Hkv, D, L;
    int decode;
    float *q, *k, *v, *o;         /* prefill Q, K, V, O; decode q, Kc, Vc, o */
    float *k_new, *v_new;         /* decode: (Hkv, D) */
    void *scratch;                /* the kernel's, for max_workers */
    atomic_int arrived;           /* decode: workers done with their part in this run */
} attn_inst;

/* ---- shapes -------------------------------------------------------------------------------- */

/* Checks the fields every entry uses; extra = cache rows beyond seq_len. */
static int check_common(const op_dims *d, int64_t extra, cb_err *err)
{
    if (op_check_range("seq_len", d->seq_len, ATTN_MAX_L, err) != 0 ||
        op_check_range("n_heads", d->n_heads, ATTN_MAX_HEADS, err) != 0 ||
        op_check_range("n_kv_heads", d->n_kv_heads, ATTN_MAX_HEADS, err) != 0 ||
        op_check_range("head_dim", d->head_dim, ATTN_MAX_D, err) != 0)
        return -1;
    if (d->n_heads % d->n_kv_heads != 0)
        return cb_fail(err, "n_heads = %d is not a multiple of n_kv_heads = %d", d->n_heads,
                       d->n_kv_heads);
    int64_t q[3] = {d->n_heads, d->seq_len + extra, d->head_dim};
    int64_t kv[3] = {d->n_kv_heads, d->seq_len + extra, d->head_dim};
    if (op_check_bytes("the query/output buffer (n_heads x seq_len x head_dim)", sizeof(float), 3,
                       q, err) != 0 ||
        op_check_bytes("the K/V buffer (n_kv_heads x seq_len x head_dim)", sizeof(float), 3, kv,
                       err) != 0)
        return -1;
    return 0;
}

static int check_flash(const op_dims *d, cb_err *err) { return check_common(d, 0, err); }

static int check_naive(const op_dims *d, cb_err *err)
{
    if (check_common(d, 0, err) != 0)
        return -1;
    if (d->seq_len > ATTN_NAIVE_MAX_L)
        return cb_fail(err,
                       "seq_len = %lld is too long for attention.naive: it materialises an "
                       "L x L fp32 score matrix per worker (%.2f GiB > 2 GiB; L <= %d); use "
                       "attention.flash",
                       (long long)d->seq_len,
                       (double)d->seq_len * (double)d->seq_len * 4.0 / 1073741824.0,
                       ATTN_NAIVE_MAX_L);
    return 0;
}

/* The decode cache holds seq_len + 1 rows per KV head. */
static int check_kvcache(const op_dims *d, cb_err *err) { return check_common(d, 1, err); }

/* ---- cost ---------------------------------------------------------------------------------- */

static double kv_state_bytes(const op_dims *d)
{
    return 2.0 * d->n_kv_heads * (double)d->seq_len * d->head_dim * sizeof(float);
}

static op_cost cost_flash(const op_dims *d)
{
    int L = (int)d->seq_len;
    op_cost c = {op_attn_prefill_flops(d->n_heads, L, d->head_dim),
                 op_attn_prefill_bytes(d->n_heads, d->n_kv_heads, L, d->head_dim),
                 kv_state_bytes(d)};
    return c;
}

static op_cost cost_naive(const op_dims *d)
{
    op_cost c = cost_flash(d);
    c.bytes = op_attn_naive_bytes(d->n_heads, d->n_kv_heads, (int)d->seq_len, d->head_dim);
    return c;
}

static op_cost cost_kvcache(const op_dims *d)
{
    int L = (int)d->seq_len;
    op_cost c = {op_attn_decode_flops(d->n_heads, L, d->head_dim),
                 op_attn_decode_bytes(d->n_heads, d->n_kv_heads, L, d->head_dim),
                 kv_state_bytes(d)};
    return c;
}

/* ---- create / destroy ------------------------------------------------------------------------- */

/* n floats, 64-byte aligned; buffers of 4 MiB or more are 2 MiB aligned and
 * asked to be backed by transparent huge pages (where the kernel offers them
 * on request), so that streaming them is not broken up by 4 KiB pages. */
static void *alloc_floats(size_t n)
{
    size_t huge = (size_t)2 << 20, bytes = (n * sizeof(float) + 63) / 64 * 64;
    if (bytes < 2 * huge)
        return aligned_alloc(64, bytes ? bytes : 64);
    bytes = (bytes + huge - 1) / huge * huge;
    void *p = aligned_alloc(huge, bytes);
#ifdef MADV_HUGEPAGE
    if (p)
        (void)madvise(p, bytes, MADV_HUGEPAGE); /* advice only: failure is harmless */
#endif
    return p;
}

static void attn_destroy(void *p)
{
    attn_inst *in = p;
    if (!in)
        return;
    free(in->q);
    free(in->k);
    free(in->v);
    free(in->o);
    free(in->k_new);
    free(in->v_new);
    free(in->scratch);
    free(in);
}

/* Allocates the instance and its buffers (rows = positions per head of the
 * K/V buffers); fills them from seed.  Returns NULL when out of memory. */
static attn_inst *attn_alloc(const op_dims *d, int decode, size_t scratch_bytes, uint64_t seed)
{
    attn_inst *in = calloc(1, sizeof *in);
    if (!in)
        return NULL;
    in->H = d->n_heads, in->Hkv = d->n_kv_heads, in->D = d->head_dim;
    in->L = (int)d->seq_len, in->decode = decode;
    atomic_init(&in->arrived, 0);
    size_t D = (size_t)in->D, rows = decode ? (size_t)in->L + 1 : (size_t)in->L;
    size_t nq = (size_t)in->H * (decode ? 1 : rows) * D, nkv = (size_t)in->Hkv * rows * D;
    in->q = alloc_floats(nq);
    in->o = alloc_floats(nq);
    in->k = alloc_floats(nkv);
    in->v = alloc_floats(nkv);
    in->scratch = malloc(scratch_bytes);
    if (decode) {
        in->k_new = alloc_floats((size_t)in->Hkv * D);
        in->v_new = alloc_floats((size_t)in->Hkv * D);
    }
    if (!in->q || !in->o || !in->k || !in->v || !in->scratch ||
        (decode && (!in->k_new || !in->v_new))) {
        attn_destroy(in);
        return NULL;
    }
    op_fill_uniform(in->q, nq, seed * 8 + 1, -2.0f, 2.0f);
    op_fill_uniform(in->k, nkv, seed * 8 + 2, -2.0f, 2.0f);
    op_fill_uniform(in->v, nkv, seed * 8 + 3, -1.0f, 1.0f);
    for (size_t i = 0; i < nq; i++) /* no output until a run: verify() fails */
        in->o[i] = NAN;
    if (decode) {
        op_fill_uniform(in->k_new, (size_t)in->Hkv * D, seed * 8 + 4, -2.0f, 2.0f);
        op_fill_uniform(in->v_new, (size_t)in->Hkv * D, seed * 8 + 5, -1.0f, 1.0f);
        for (int kv = 0; kv < in->Hkv; kv++) { /* slot L: empty until the first run */
            memset(in->k + ((size_t)kv * rows + in->L) * D, 0, D * sizeof(float));
            memset(in->v + ((size_t)kv * rows + in->L) * D, 0, D * sizeof(float));
        }
    }
    return in;
}

/* The kernel scratch of entry e for max_workers workers (shape checked). */
static size_t scratch_bytes(const op_entry *e, const op_dims *d, int max_workers)
{
    if (strcmp(e->impl, "naive") == 0)
        return op_attn_naive_scratch_bytes((int)d->seq_len, max_workers);
    if (strcmp(e->impl, "flash") == 0)
        return op_attn_flash_scratch_bytes(d->head_dim, max_workers);
    return op_attn_decode_scratch_bytes(d->n_heads, d->n_kv_heads, d->head_dim, max_workers);
}

static int create_common(const op_entry *e, const op_dims *d, uint64_t seed, int max_workers,
                         void **inst, cb_err *err)
{
    *inst = NULL;
    if (e->check(d, err) != 0)
        return cb_wrap(err, "%s", e->name);
    if (max_workers < 1)
        return cb_fail(err, "%s: max_workers = %d (must be >= 1)", e->name, max_workers);
    attn_inst *in = attn_alloc(d, strcmp(e->phase, "decode") == 0,
                               scratch_bytes(e, d, max_workers), seed);
    if (!in)
        return cb_fail(err, "%s: out of memory for L = %lld", e->name, (long long)d->seq_len);
    in->entry = e;
    *inst = in;
    return 0;
}

static const op_entry attn_naive_entry, attn_flash_entry, attn_kvcache_entry;

static int create_naive(const op_dims *d, uint64_t seed, int max_workers, void **inst,
                        cb_err *err)
{
    return create_common(&attn_naive_entry, d, seed, max_workers, inst, err);
}

static int create_flash(const op_dims *d, uint64_t seed, int max_workers, void **inst,
                        cb_err *err)
{
    return create_common(&attn_flash_entry, d, seed, max_workers, inst, err);
}

static int create_kvcache(const op_dims *d, uint64_t seed, int max_workers, void **inst,
                          cb_err *err)
{
    return create_common(&attn_kvcache_entry, d, seed, max_workers, inst, err);
}

/* ---- run --------------------------------------------------------------------------------- */

static void run_naive(void *p, int worker, int n_workers)
{
    attn_inst *in = p;
    op_attn_naive_part(in->q, in->k, in->v, in->o, in->H, in->Hkv, in->L, in->D, in->scratch,
                       worker, n_workers);
}

static void run_flash(void *p, int worker, int n_workers)
{
    attn_inst *in = p;
    op_attn_flash_part(in->q, in->k, in->v, in->o, in->H, in->Hkv, in->L, in->D, in->scratch,
                       worker, n_workers);
}

static void run_kvcache(void *p, int worker, int n_workers)
{
    attn_inst *in = p;
    op_attn_decode_part(in->q, in->k, in->v, in->k_new, in->v_new, in->o, in->H, in->Hkv, in->L,
                        in->D, in->scratch, worker, n_workers);
    if (op_attn_decode_needs_merge(in->Hkv, n_workers) &&
        atomic_fetch_add_explicit(&in->arrived, 1, memory_order_acq_rel) == n_workers - 1) {
        op_attn_decode_merge(in->o, in->H, in->Hkv, in->L, in->D, in->scratch, n_workers);
        atomic_store_explicit(&in->arrived, 0, memory_order_relaxed);
    }
}

/* ---- verify -------------------------------------------------------------------------------- */

/* The heads verify() checks: all of them, or a spread of VERIFY_HEADS
 * (first, last, and between) when checking all would cost too much. */
static int pick_heads(int H, int all, int *heads)
{
    if (all || H <= VERIFY_HEADS) {
        for (int h = 0; h < H; h++)
            heads[h] = h;
        return H;
    }
    for (int k = 0; k < VERIFY_HEADS; k++)
        heads[k] = (int)((int64_t)(H - 1) * k / (VERIFY_HEADS - 1));
    return VERIFY_HEADS;
}

/* The rows checked per head: all of them, or a spread of VERIFY_ROWS
 * including the first two and last two and rows around block edges. */
static int pick_rows(int L, int all, int *rows)
{
    if (all || L <= VERIFY_ROWS) {
        for (int i = 0; i < L; i++)
            rows[i] = i;
        return L;
    }
    int n = 0;
    const int fixed[] = {0, 1, 63, 64, 95, 96, L - 2, L - 1};
    for (int k = 0; k < (int)(sizeof fixed / sizeof *fixed); k++)
        if (fixed[k] < L)
            rows[n++] = fixed[k];
    int spread = VERIFY_ROWS - n;
    for (int k = 1; k <= spread; k++)
        rows[n++] = (int)((int64_t)(L - 1) * k / (spread + 1));
    return n;
}

/* max |x| over n values. */
static float max_abs(const float *x, size_t n)
{
    float m = 0.0f;
    for (size_t i = 0; i < n; i++)
        m = fabsf(x[i]) > m ? fabsf(x[i]) : m;
    return m;
}

/* Compares D values of got with ref within ATTN_TOL x vmax; fails naming the element. */
static int compare_row(const attn_inst *in, const float *got, const float *ref, float vmax, int h,
                       int row, cb_err *err)
{
    double tol = ATTN_TOL * (vmax > 0.0f ? vmax : 1.0f);
    for (int d = 0; d < in->D; d++) {
        double diff = fabs((double)got[d] - ref[d]);
        if (!(diff <= tol))
            return cb_fail(err,
                           "%s: output head %d row %d dim %d = %.9g, reference %.9g (|diff| "
                           "%.3g > %.3g = %g x max|V|)",
                           in->entry->name, h, row, d, got[d], ref[d], diff, tol, ATTN_TOL);
    }
    return 0;
}

/* Prefill: the reference rows for a spread of heads and rows (everything
 * when that costs < VERIFY_FULL_MACS multiply-adds; else at most
 * VERIFY_HEADS x VERIFY_ROWS rows, ~ a tenth of a flash run at L = 8192). */
static int verify_prefill(void *p, cb_err *err)
{
    attn_inst *in = p;
    int all = (double)in->H * in->L * (double)in->L * in->D <= VERIFY_FULL_MACS;
    int *heads = malloc(sizeof(int) * (size_t)in->H);
    int *rows = malloc(sizeof(int) * (size_t)(in->L > VERIFY_ROWS ? in->L : VERIFY_ROWS));
    float *ref = malloc(sizeof(float) * (size_t)in->D);
    int rc = 0;
    if (!heads || !rows || !ref) {
        rc = cb_fail(err, "%s: verify: out of memory", in->entry->name);
        goto out;
    }
    int nh = pick_heads(in->H, all, heads), nr = pick_rows(in->L, all, rows);
    size_t head = (size_t)in->L * in->D;
    for (int a = 0; a < nh && rc == 0; a++) {
        int h = heads[a], kv = h / (in->H / in->Hkv);
        float vmax = max_abs(in->v + (size_t)kv * head, head);
        for (int b = 0; b < nr && rc == 0; b++) {
            op_attn_ref_row(in->q, in->k, in->v, ref, in->H, in->Hkv, in->L, in->D, h, rows[b]);
            rc = compare_row(in, in->o + (size_t)h * head + (size_t)rows[b] * in->D, ref, vmax,
                             h, rows[b], err);
        }
    }
out:
    free(heads);
    free(rows);
    free(ref);
    return rc;
}

/* Decode: every query head's output, or a spread of VERIFY_HEADS when the
 * cache is large (the double reference reads it at scalar speed). */
static int verify_kvcache(void *p, cb_err *err)
{
    attn_inst *in = p;
    size_t P = (size_t)in->L + 1, head = P * in->D;
    int all = (double)in->H * (double)head <= VERIFY_FULL_MACS / 4;
    int *heads = malloc(sizeof(int) * (size_t)in->H);
    float *ref = malloc(sizeof(float) * (size_t)in->D);
    int rc = 0;
    if (!heads || !ref) {
        rc = cb_fail(err, "%s: verify: out of memory", in->entry->name);
        goto out;
    }
    int nh = pick_heads(in->H, all, heads);
    for (int a = 0; a < nh && rc == 0; a++) {
        int h = heads[a], kv = h / (in->H / in->Hkv);
        float vmax = max_abs(in->v + (size_t)kv * head, head);
        op_attn_decode_ref_head(in->q, in->k, in->v, ref, in->H, in->Hkv, (int)P, (int)P, in->D,
                                h);
        rc = compare_row(in, in->o + (size_t)h * in->D, ref, vmax, h, in->L, err);
    }
out:
    free(heads);
    free(ref);
    return rc;
}

/* ---- the family ------------------------------------------------------------------------------ */

#define ATTN_USES "seq_len n_heads n_kv_heads head_dim"

static const op_entry attn_naive_entry = {
    "attention.naive", "attention", "naive", "quadratic", "prefill", ATTN_USES, ATTN_TOL,
    check_naive, cost_naive, create_naive, run_naive, verify_prefill, attn_destroy,
};

static const op_entry attn_flash_entry = {
    "attention.flash", "attention", "flash", "quadratic", "prefill", ATTN_USES, ATTN_TOL,
    check_flash, cost_flash, create_flash, run_flash, verify_prefill, attn_destroy,
};

static const op_entry attn_kvcache_entry = {
    "attention.kvcache", "attention", "kvcache", "quadratic", "decode", ATTN_USES, ATTN_TOL,
    check_kvcache, cost_kvcache, create_kvcache, run_kvcache, verify_kvcache, attn_destroy,
};

const op_entry *const op_family_attention[] = {
    &attn_naive_entry,
    &attn_flash_entry,
    &attn_kvcache_entry,
    NULL,
};
