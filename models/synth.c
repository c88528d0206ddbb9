/* models/synth.c — deterministic synthetic weights (models/synth.h).
 * Never reads files, prints or exits. */
#include <math.h>
#include <stdlib.h>

#include "models/synth.h"
#include "operators/conv1d.h"

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* The generator state of the stream (seed, stream). */
static uint64_t stream_start(uint64_t seed, uint64_t stream)
{
    uint64_t s = seed ^ (stream * 0xd1b54a32d192ed03ull);
    uint64_t r = splitmix64(&s);
    return r ? r : 1;
}

/* The next n values of generator *r, uniform in [-bound, bound). */
static void stream_fill(uint64_t *r, float *x, size_t n, float bound)
{
    uint64_t v = *r;
    for (size_t i = 0; i < n; i++) {
        /* xorshift64*, top 32 bits to [-1, 1) */
        v ^= v >> 12;
        v ^= v << 25;
        v ^= v >> 27;
        uint64_t o = v * 0x2545f4914f6cdd1dull;
        x[i] = bound * ((float)(int32_t)(o >> 32) * (1.0f / 2147483648.0f));
    }
    *r = v;
}

void synth_fill_uniform(float *x, size_t n, float bound, uint64_t seed, uint64_t stream)
{
    uint64_t r = stream_start(seed, stream);
    stream_fill(&r, x, n, bound);
}

void synth_fill_matrix(void *x, op_wtype wt, size_t n, float bound, uint64_t seed,
                       uint64_t stream)
{
    if (wt == OP_W_F32) {
        synth_fill_uniform(x, n, bound, seed, stream);
        return;
    }
    uint64_t r = stream_start(seed, stream);
    float chunk[1024]; /* whole blocks of every block type */
    for (size_t i = 0; i < n; i += 1024) {
        size_t k = n - i < 1024 ? n - i : 1024;
        stream_fill(&r, chunk, k, bound);
        op_f32_to_w(chunk, wt, (char *)x + op_wtype_row_bytes(wt, (int64_t)i), k);
    }
}

void synth_fill_ones(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = 1.0f;
}

/* Stream ids: tensor kind in the low byte, layer + 1 above it. */
enum { T_EMB = 1, T_LMHEAD, T_WQ, T_WK, T_WV, T_BQ, T_BK, T_BV, T_WO, T_GATE, T_UP, T_DOWN };
static uint64_t sid(int layer, int kind) { return ((uint64_t)(layer + 1) << 8) | (uint64_t)kind; }

/* Uniform bound of the embedding, the LM head and biases: std 0.02. */
#define EMB_BOUND (0.02f * 1.7320508f)

void synth_embeddings(const model_config *c, uint64_t seed, void *tok_emb, float *final_norm,
                      void *lm_head)
{
    size_t vd = (size_t)c->vocab * c->d_model;
    synth_fill_matrix(tok_emb, c->emb_wtype, vd, EMB_BOUND, seed, sid(-1, T_EMB));
    synth_fill_ones(final_norm, (size_t)c->d_model);
    if (!c->tied_embeddings)
        synth_fill_matrix(lm_head, c->emb_wtype, vd, EMB_BOUND, seed, sid(-1, T_LMHEAD));
}

void synth_tf_layer(const model_config *c, uint64_t seed, int l, tf_layer_weights *L)
{
    size_t d = (size_t)c->d_model, qd = (size_t)c->n_heads * c->head_dim,
           kvd = (size_t)c->n_kv_heads * c->head_dim, f = (size_t)c->ffn_dim;
    float in_d = 1.0f / sqrtf((float)d), in_q = 1.0f / sqrtf((float)qd),
          in_f = 1.0f / sqrtf((float)f);
    op_wtype wt = c->wtype;
    synth_fill_ones(L->attn_norm, d);
    synth_fill_matrix(L->wq, wt, qd * d, in_d, seed, sid(l, T_WQ));
    synth_fill_matrix(L->wk, wt, kvd * d, in_d, seed, sid(l, T_WK));
    synth_fill_matrix(L->wv, wt, kvd * d, in_d, seed, sid(l, T_WV));
    if (c->qkv_bias) {
        synth_fill_uniform(L->bq, qd, EMB_BOUND, seed, sid(l, T_BQ));
        synth_fill_uniform(L->bk, kvd, EMB_BOUND, seed, sid(l, T_BK));
        synth_fill_uniform(L->bv, kvd, EMB_BOUND, seed, sid(l, T_BV));
    }
    synth_fill_matrix(L->wo, wt, d * qd, in_q, seed, sid(l, T_WO));
    synth_fill_ones(L->ffn_norm, d);
    synth_fill_matrix(L->w_gate, wt, f * d, in_d, seed, sid(l, T_GATE));
    synth_fill_matrix(L->w_up, wt, f * d, in_d, seed, sid(l, T_UP));
    synth_fill_matrix(L->w_down, wt, d * f, in_f, seed, sid(l, T_DOWN));
}

int synth_transformer(const model_config *c, uint64_t seed, tf_weights *w, cb_err *err)
{
    if (tf_weights_alloc(c, w, err) != 0)
        return -1;
    synth_embeddings(c, seed, w->tok_emb, w->final_norm, w->lm_head);
    for (int l = 0; l < c->n_layers; l++)
        synth_tf_layer(c, seed, l, &w->layers[l]);
    return 0;
}

void synth_dt_bias(float *bias, size_t n, uint64_t seed, uint64_t stream)
{
    const double dt_min = 1e-3, dt_max = 1e-1, dt_floor = 1e-4;
    /* dt = exp(u (ln dt_max - ln dt_min) + ln dt_min), u in [0, 1);
     * bias = dt + log(-expm1(-dt)), the inverse of softplus. */
    synth_fill_uniform(bias, n, 1.0f, seed, stream);
    for (size_t i = 0; i < n; i++) {
        double u = 0.5 * ((double)bias[i] + 1.0);
        double dt = exp(u * (log(dt_max) - log(dt_min)) + log(dt_min));
        if (dt < dt_floor)
            dt = dt_floor;
        bias[i] = (float)(dt + log(-expm1(-dt)));
    }
}

/* Mamba-1 stream kinds (a separate range from the Transformer's). */
enum { M_INPROJ = 32, M_CONVW, M_CONVB, M_XPROJ, M_DTW, M_DTB, M_OUTPROJ };

int synth_mamba1(const model_config *c, uint64_t seed, m1_weights *w, cb_err *err)
{
    if (m1_weights_alloc(c, w, err) != 0)
        return -1;
    size_t d = (size_t)c->d_model, di = (size_t)c->expand * d, R = (size_t)c->dt_rank,
           N = (size_t)c->d_state;
    float in_d = 1.0f / sqrtf((float)d), in_i = 1.0f / sqrtf((float)di),
          conv_b = 1.0f / sqrtf((float)OP_CONV1D_WIDTH), dt_w = 1.0f / sqrtf((float)R);
    op_wtype wt = c->wtype;
    synth_embeddings(c, seed, w->tok_emb, w->final_norm, w->lm_head);
    for (int l = 0; l < c->n_layers; l++) {
        m1_layer_weights *L = &w->layers[l];
        synth_fill_ones(L->norm, d);
        synth_fill_matrix(L->in_proj, wt, 2 * di * d, in_d, seed, sid(l, M_INPROJ));
        synth_fill_uniform(L->conv_w, di * OP_CONV1D_WIDTH, conv_b, seed, sid(l, M_CONVW));
        synth_fill_uniform(L->conv_b, di, conv_b, seed, sid(l, M_CONVB));
        synth_fill_matrix(L->x_proj, wt, (R + 2 * N) * di, in_i, seed, sid(l, M_XPROJ));
        synth_fill_matrix(L->dt_proj_w, wt, di * R, dt_w, seed, sid(l, M_DTW));
        synth_dt_bias(L->dt_proj_b, di, seed, sid(l, M_DTB));
        for (size_t ch = 0; ch < di; ch++)
            for (size_t n = 0; n < N; n++)
                L->A_log[ch * N + n] = (float)log((double)(n + 1));
        synth_fill_ones(L->D, di);
        synth_fill_matrix(L->out_proj, wt, d * di, in_i, seed, sid(l, M_OUTPROJ));
    }
    return 0;
}

/* Mamba-2 stream kinds (a separate range from the Transformer's and Mamba-1's). */
enum { M2_INPROJ = 64, M2_CONVW, M2_CONVB, M2_DTB, M2_ALOG, M2_OUTPROJ };

/* The tensors of Mamba-2 block l. */
static void synth_m2_layer(const model_config *c, uint64_t seed, int l, m2_layer_weights *L)
{
    size_t d = (size_t)c->d_model, di = (size_t)c->expand * d, N = (size_t)c->d_state,
           H = di / (size_t)c->ssm_head_dim, dc = di + 2 * N, nin = di + dc + H;
    float in_d = 1.0f / sqrtf((float)d), in_i = 1.0f / sqrtf((float)di),
          conv_b = 1.0f / sqrtf((float)OP_CONV1D_WIDTH);
    op_wtype wt = c->wtype;
    synth_fill_ones(L->norm, d);
    synth_fill_matrix(L->in_proj, wt, nin * d, in_d, seed, sid(l, M2_INPROJ));
    synth_fill_uniform(L->conv_w, dc * OP_CONV1D_WIDTH, conv_b, seed, sid(l, M2_CONVW));
    synth_fill_uniform(L->conv_b, dc, conv_b, seed, sid(l, M2_CONVB));
    synth_dt_bias(L->dt_bias, H, seed, sid(l, M2_DTB));
    /* A = -uniform[1, 16]: u in [-1, 1) mapped to [1, 16). */
    synth_fill_uniform(L->A_log, H, 1.0f, seed, sid(l, M2_ALOG));
    for (size_t h = 0; h < H; h++)
        L->A_log[h] = (float)log(1.0 + 7.5 * ((double)L->A_log[h] + 1.0));
    synth_fill_ones(L->D, H);
    synth_fill_ones(L->gnorm, di);
    synth_fill_matrix(L->out_proj, wt, d * di, in_i, seed, sid(l, M2_OUTPROJ));
}

int synth_mamba2(const model_config *c, uint64_t seed, m2_weights *w, cb_err *err)
{
    if (m2_weights_alloc(c, w, err) != 0)
        return -1;
    synth_embeddings(c, seed, w->tok_emb, w->final_norm, w->lm_head);
    for (int l = 0; l < c->n_layers; l++) {
        if (m2_is_ssm_layer(c, l))
            synth_m2_layer(c, seed, l, &w->ssm[l]);
        else
            synth_tf_layer(c, seed, l, &w->attn[l]);
    }
    return 0;
}
