/* models/lm.c — the common model interface (lm.h): one struct that holds a
 * Transformer, a Mamba-1 or a Mamba-2 / hybrid model and forwards every call
 * to it, one switch on the architecture per function; the parameter count
 * and KV-cache size of a configuration; snapshots for returning to an
 * earlier position.
 *
 * Snapshot validity.  A snapshot copies the recurrent state but not the KV
 * cache: the cache positions before its n_pos must still hold what they
 * held when it was taken.  The lm stamps every KV slot it lets a forward
 * pass write with a counter (slot_tick, one per position of max_context)
 * and a snapshot records the counter at its taking; restore refuses a
 * snapshot when a slot below its n_pos was written since (a prefill, or
 * decodes after returning to an earlier position).  Models without
 * attention have no slots, and any of their snapshots can be restored.
 *
 * Never: start threads, print, exit, or look inside a model's private state
 * (it uses only the models' public headers). */
#include "models/lm.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "models/synth.h"

struct lm {
    model_arch arch;
    tf_model *tf;            /* MODEL_ARCH_TRANSFORMER */
    m1_model *m1;            /* MODEL_ARCH_MAMBA1 */
    m2_model *m2;            /* MODEL_ARCH_MAMBA2 and MODEL_ARCH_HYBRID */
    const model_config *cfg; /* the inner model's */
    int max_prefill;
    uint64_t id;             /* distinct for every lm created by this process */
    uint64_t tick;           /* KV-slot writes stamped so far */
    uint64_t *slot_tick;     /* (n_slots): the tick of each slot's last write */
    int n_slots;             /* max_context with attention layers, else 0 */
};

struct lm_snapshot {
    const lm *owner;
    uint64_t owner_id;
    long n_pos;
    uint64_t tick;      /* owner's tick when taken */
    size_t state_bytes; /* recurrent state copied into state[] */
    unsigned char state[];
};

/* ---- weights --------------------------------------------------------------------------- */

int lm_weights_synth(const model_config *cfg, uint64_t seed, lm_weights *w, cb_err *err)
{
    memset(w, 0, sizeof *w);
    w->arch = cfg->arch;
    int rc;
    switch (cfg->arch) {
    case MODEL_ARCH_TRANSFORMER:
        rc = synth_transformer(cfg, seed, &w->tf, err);
        break;
    case MODEL_ARCH_MAMBA1:
        rc = synth_mamba1(cfg, seed, &w->m1, err);
        break;
    case MODEL_ARCH_MAMBA2:
    case MODEL_ARCH_HYBRID:
        rc = synth_mamba2(cfg, seed, &w->m2, err);
        break;
    default:
        rc = cb_fail(err, "lm: arch = %d is not a known architecture", (int)cfg->arch);
    }
    if (rc != 0)
        memset(w, 0, sizeof *w);
    return rc;
}

void lm_weights_free(lm_weights *w)
{
    if (w == NULL)
        return;
    switch (w->arch) {
    case MODEL_ARCH_TRANSFORMER:
        tf_weights_free(&w->tf);
        break;
    case MODEL_ARCH_MAMBA1:
        m1_weights_free(&w->m1);
        break;
    case MODEL_ARCH_MAMBA2:
    case MODEL_ARCH_HYBRID:
        m2_weights_free(&w->m2);
        break;
    }
    memset(w, 0, sizeof *w);
}

/* ---- sizes of a configuration ----------------------------------------------------------- */

/* Elements of one Transformer block: two norms, Q K V O (and their
 * biases), the SwiGLU gate, up and down. */
static int64_t tf_block_params(const model_config *c)
{
    int64_t d = c->d_model, qd = (int64_t)c->n_heads * c->head_dim,
            kvd = (int64_t)c->n_kv_heads * c->head_dim, f = c->ffn_dim;
    int64_t attn = qd * d + 2 * kvd * d + d * qd + (c->qkv_bias ? qd + 2 * kvd : 0);
    return 2 * d + attn + 3 * f * d;
}

/* Elements of one Mamba-1 layer (m1_layer_weights). */
static int64_t m1_layer_params(const model_config *c)
{
    int64_t d = c->d_model, di = (int64_t)c->expand * d, R = c->dt_rank, N = c->d_state;
    return d                       /* norm */
           + 2 * di * d            /* in_proj */
           + di * c->d_conv + di   /* conv weight and bias */
           + (R + 2 * N) * di      /* x_proj */
           + di * R + di           /* dt_proj weight and bias */
           + di * N + di           /* A_log, D */
           + d * di;               /* out_proj */
}

/* Elements of one Mamba-2 layer (m2_layer_weights). */
static int64_t m2_layer_params(const model_config *c)
{
    int64_t d = c->d_model, di = (int64_t)c->expand * d, N = c->d_state,
            H = di / c->ssm_head_dim, conv_ch = di + 2 * N;
    return d                              /* norm */
           + (2 * di + 2 * N + H) * d     /* in_proj */
           + conv_ch * c->d_conv + conv_ch /* conv weight and bias */
           + 3 * H                        /* dt_bias, A_log, D */
           + di                           /* gated norm */
           + d * di;                      /* out_proj */
}

/* Attention layers of cfg: every layer of a Transformer, the 'A's of a
 * hybrid's pattern, none for the SSMs. */
static int attention_layers(const model_config *c)
{
    int n = 0;
    switch (c->arch) {
    case MODEL_ARCH_TRANSFORMER:
        n = c->n_layers;
        break;
    case MODEL_ARCH_HYBRID:
        for (int l = 0; l < c->n_layers && c->pattern[l]; l++)
            n += c->pattern[l] == 'A';
        break;
    case MODEL_ARCH_MAMBA1:
    case MODEL_ARCH_MAMBA2:
        break;
    }
    return n;
}

int64_t lm_param_count(const model_config *c)
{
    int64_t layers = 0;
    switch (c->arch) {
    case MODEL_ARCH_TRANSFORMER:
        layers = c->n_layers * tf_block_params(c);
        break;
    case MODEL_ARCH_MAMBA1:
        layers = c->n_layers * m1_layer_params(c);
        break;
    case MODEL_ARCH_MAMBA2:
    case MODEL_ARCH_HYBRID: {
        int n_attn = attention_layers(c);
        layers = (c->n_layers - n_attn) * m2_layer_params(c) + n_attn * tf_block_params(c);
        break;
    }
    }
    int64_t emb = (int64_t)c->vocab * c->d_model;
    return emb * (c->tied_embeddings ? 1 : 2) + layers + c->d_model /* final norm */;
}

size_t lm_weight_bytes(const model_config *c)
{
    switch (c->arch) {
    case MODEL_ARCH_TRANSFORMER:
        return tf_weight_bytes(c);
    case MODEL_ARCH_MAMBA1:
        return m1_weight_bytes(c);
    case MODEL_ARCH_MAMBA2:
    case MODEL_ARCH_HYBRID:
        return m2_weight_bytes(c);
    }
    return 0;
}

size_t lm_kv_bytes(const model_config *c, long n)
{
    if (n <= 0)
        return 0;
    return 2 * (size_t)attention_layers(c) * (size_t)c->n_kv_heads * (size_t)c->head_dim *
           (size_t)n * sizeof(float);
}

/* ---- creation ---------------------------------------------------------------------------- */

/* Stamps KV slots [lo, hi) as written now. */
static void stamp_slots(lm *m, long lo, long hi)
{
    if (hi > m->n_slots)
        hi = m->n_slots;
    if (lo >= hi)
        return;
    m->tick++;
    for (long i = lo; i < hi; i++)
        m->slot_tick[i] = m->tick;
}

/* The KV-slot bookkeeping of a model of cfg: one tick per position of
 * max_context when it has attention layers. */
static int alloc_slots(lm *m, const model_config *cfg, cb_err *err)
{
    if (attention_layers(cfg) == 0 || cfg->max_context <= 0)
        return 0;
    m->slot_tick = calloc((size_t)cfg->max_context, sizeof *m->slot_tick);
    if (m->slot_tick == NULL)
        return cb_fail(err, "lm: out of memory for %d KV positions", cfg->max_context);
    m->n_slots = cfg->max_context;
    return 0;
}

int lm_create(const model_config *cfg, lm_weights *w, int max_prefill, lm **out, cb_err *err)
{
    static _Atomic uint64_t next_id = 1;
    *out = NULL;
    if (model_config_check(cfg, err) != 0)
        return -1;
    if (w->arch != cfg->arch)
        return cb_fail(err, "lm: weights of arch %s for a config of arch %s",
                       model_arch_name(w->arch), model_arch_name(cfg->arch));
    lm *m = calloc(1, sizeof *m);
    if (m == NULL)
        return cb_fail(err, "lm: out of memory");
    m->arch = cfg->arch;
    m->max_prefill = max_prefill;
    m->id = atomic_fetch_add(&next_id, 1);
    if (alloc_slots(m, cfg, err) != 0) {
        free(m);
        return -1;
    }
    int rc;
    switch (cfg->arch) {
    case MODEL_ARCH_TRANSFORMER:
        rc = tf_create(cfg, &w->tf, max_prefill, &m->tf, err);
        m->cfg = rc == 0 ? &m->tf->cfg : NULL;
        break;
    case MODEL_ARCH_MAMBA1:
        rc = m1_create(cfg, &w->m1, max_prefill, &m->m1, err);
        m->cfg = rc == 0 ? &m->m1->cfg : NULL;
        break;
    case MODEL_ARCH_MAMBA2:
    case MODEL_ARCH_HYBRID:
        rc = m2_create(cfg, &w->m2, max_prefill, &m->m2, err);
        m->cfg = rc == 0 ? &m->m2->cfg : NULL;
        break;
    default:
        rc = cb_fail(err, "lm: arch = %d is not a known architecture", (int)cfg->arch);
    }
    if (rc != 0) {
        free(m->slot_tick);
        free(m);
        return -1;
    }
    memset(w, 0, sizeof *w);
    *out = m;
    return 0;
}

void lm_free(lm *m)
{
    if (m == NULL)
        return;
    switch (m->arch) {
    case MODEL_ARCH_TRANSFORMER:
        tf_free(m->tf);
        break;
    case MODEL_ARCH_MAMBA1:
        m1_free(m->m1);
        break;
    case MODEL_ARCH_MAMBA2:
    case MODEL_ARCH_HYBRID:
        m2_free(m->m2);
        break;
    }
    free(m->slot_tick);
    free(m);
}

const model_config *lm_config(const lm *m) { return m->cfg; }

int lm_max_prefill(const lm *m) { return m->max_prefill; }

long lm_n_pos(const lm *m)
{
    switch (m->arch) {
    case MODEL_ARCH_TRANSFORMER:
        return m->tf->n_pos;
    case MODEL_ARCH_MAMBA1:
        return m->m1->n_pos;
    case MODEL_ARCH_MAMBA2:
    case MODEL_ARCH_HYBRID:
        return m->m2->n_pos;
    }
    return 0;
}

void lm_reset(lm *m)
{
    switch (m->arch) {
    case MODEL_ARCH_TRANSFORMER:
        tf_reset(m->tf);
        break;
    case MODEL_ARCH_MAMBA1:
        m1_reset(m->m1);
        break;
    case MODEL_ARCH_MAMBA2:
    case MODEL_ARCH_HYBRID:
        m2_reset(m->m2);
        break;
    }
}

/* ---- forward passes ---------------------------------------------------------------------- */

int lm_prefill(lm *m, pool *p, const pool_part *part, const int *tokens, int n, float *logits,
               float *logits_all, cb_err *err)
{
    stamp_slots(m, 0, n);
    switch (m->arch) {
    case MODEL_ARCH_TRANSFORMER:
        return tf_prefill(m->tf, p, part, tokens, n, logits, logits_all, err);
    case MODEL_ARCH_MAMBA1:
        return m1_prefill(m->m1, p, part, tokens, n, logits, logits_all, err);
    case MODEL_ARCH_MAMBA2:
    case MODEL_ARCH_HYBRID:
        return m2_prefill(m->m2, p, part, tokens, n, logits, logits_all, err);
    }
    return cb_fail(err, "lm: arch = %d is not a known architecture", (int)m->arch);
}

int lm_decode(lm *m, pool *p, const pool_part *part, int token, float *logits, cb_err *err)
{
    long pos = lm_n_pos(m);
    stamp_slots(m, pos, pos + 1);
    switch (m->arch) {
    case MODEL_ARCH_TRANSFORMER:
        return tf_decode(m->tf, p, part, token, (int)pos, logits, err);
    case MODEL_ARCH_MAMBA1:
        return m1_decode(m->m1, p, part, token, logits, err);
    case MODEL_ARCH_MAMBA2:
    case MODEL_ARCH_HYBRID:
        return m2_decode(m->m2, p, part, token, logits, err);
    }
    return cb_fail(err, "lm: arch = %d is not a known architecture", (int)m->arch);
}

int lm_forward_ref(const lm *m, const int *tokens, int n, float *logits_all, cb_err *err)
{
    switch (m->arch) {
    case MODEL_ARCH_TRANSFORMER:
        return tf_forward_ref(m->tf, tokens, n, logits_all, NULL, err);
    case MODEL_ARCH_MAMBA1:
        return m1_forward_ref(m->m1, tokens, n, logits_all, NULL, err);
    case MODEL_ARCH_MAMBA2:
    case MODEL_ARCH_HYBRID:
        return m2_forward_ref(m->m2, tokens, n, logits_all, NULL, err);
    }
    return cb_fail(err, "lm: arch = %d is not a known architecture", (int)m->arch);
}

/* ---- snapshots --------------------------------------------------------------------------- */

/* Bytes of m's recurrent state (0 for the Transformer: its KV cache stays
 * in place). */
static size_t recurrent_state_bytes(const lm *m)
{
    switch (m->arch) {
    case MODEL_ARCH_TRANSFORMER:
        return 0;
    case MODEL_ARCH_MAMBA1:
        return m1_state_bytes(m->m1);
    case MODEL_ARCH_MAMBA2:
    case MODEL_ARCH_HYBRID:
        return m2_state_bytes(m->m2);
    }
    return 0;
}

int lm_snapshot_take(const lm *m, lm_snapshot **out, cb_err *err)
{
    size_t bytes = recurrent_state_bytes(m);
    lm_snapshot *s = malloc(sizeof *s + bytes);
    if (s == NULL) {
        *out = NULL;
        return cb_fail(err, "lm: out of memory for a snapshot of %zu bytes", bytes);
    }
    s->owner = m;
    s->owner_id = m->id;
    s->n_pos = lm_n_pos(m);
    s->tick = m->tick;
    s->state_bytes = bytes;
    switch (m->arch) {
    case MODEL_ARCH_TRANSFORMER:
        break;
    case MODEL_ARCH_MAMBA1:
        m1_state_save(m->m1, s->state);
        break;
    case MODEL_ARCH_MAMBA2:
    case MODEL_ARCH_HYBRID:
        m2_state_save(m->m2, s->state);
        break;
    }
    *out = s;
    return 0;
}

/* Has a KV slot below the snapshot's position been written since it was
 * taken? */
static int kv_overwritten(const lm *m, const lm_snapshot *s)
{
    long n = s->n_pos < m->n_slots ? s->n_pos : m->n_slots;
    for (long i = 0; i < n; i++)
        if (m->slot_tick[i] > s->tick)
            return 1;
    return 0;
}

int lm_snapshot_restore(lm *m, const lm_snapshot *s, cb_err *err)
{
    if (s->owner != m || s->owner_id != m->id)
        return cb_fail(err, "lm: snapshot restore: the snapshot is of another model");
    if (kv_overwritten(m, s))
        return cb_fail(err,
                       "lm: snapshot restore: KV positions below %ld were overwritten since "
                       "the snapshot was taken",
                       s->n_pos);
    switch (m->arch) {
    case MODEL_ARCH_TRANSFORMER:
        m->tf->n_pos = (int)s->n_pos;
        break;
    case MODEL_ARCH_MAMBA1:
        m1_state_load(m->m1, s->state, s->n_pos);
        break;
    case MODEL_ARCH_MAMBA2:
    case MODEL_ARCH_HYBRID:
        m2_state_load(m->m2, s->state, s->n_pos);
        break;
    }
    return 0;
}

void lm_snapshot_free(lm_snapshot *s) { free(s); }

/* ---- memory and timing ------------------------------------------------------------------- */

lm_memory lm_memory_use(const lm *m)
{
    lm_memory r = {0};
    switch (m->arch) {
    case MODEL_ARCH_TRANSFORMER: {
        tf_memory t = tf_memory_use(m->tf);
        r.weights = t.weights, r.kv_cache = t.kv_cache, r.scratch = t.scratch;
        break;
    }
    case MODEL_ARCH_MAMBA1: {
        m1_memory t = m1_memory_use(m->m1);
        r.weights = t.weights, r.state = t.state + t.derived, r.scratch = t.scratch;
        break;
    }
    case MODEL_ARCH_MAMBA2:
    case MODEL_ARCH_HYBRID: {
        m2_memory t = m2_memory_use(m->m2);
        r.weights = t.weights, r.kv_cache = t.kv_cache, r.state = t.state;
        r.scratch = t.scratch;
        break;
    }
    }
    r.scratch += (size_t)m->n_slots * sizeof *m->slot_tick;
    r.total = r.weights + r.kv_cache + r.state + r.scratch;
    return r;
}

void lm_set_timing(lm *m, int on)
{
    switch (m->arch) {
    case MODEL_ARCH_TRANSFORMER:
        m->tf->timing = on != 0;
        break;
    case MODEL_ARCH_MAMBA1:
        m->m1->timing = on != 0;
        break;
    case MODEL_ARCH_MAMBA2:
    case MODEL_ARCH_HYBRID:
        m->m2->timing = on != 0;
        break;
    }
}

const mx_breakdown *lm_breakdown(const lm *m)
{
    switch (m->arch) {
    case MODEL_ARCH_TRANSFORMER:
        return &m->tf->bd;
    case MODEL_ARCH_MAMBA1:
        return &m->m1->bd;
    case MODEL_ARCH_MAMBA2:
    case MODEL_ARCH_HYBRID:
        return &m->m2->bd;
    }
    return NULL;
}

void lm_breakdown_clear(lm *m)
{
    switch (m->arch) {
    case MODEL_ARCH_TRANSFORMER:
        tf_breakdown_clear(m->tf);
        break;
    case MODEL_ARCH_MAMBA1:
        m1_breakdown_clear(m->m1);
        break;
    case MODEL_ARCH_MAMBA2:
    case MODEL_ARCH_HYBRID:
        m2_breakdown_clear(m->m2);
        break;
    }
}
