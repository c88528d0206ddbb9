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

void synth_fill_uniform(float *x, size_t n, float bound, uint64_t seed, uint64_t stream)
{
    uint64_t s = seed ^ (stream * 0xd1b54a32d192ed03ull);
    uint64_t r = splitmix64(&s);
    if (r == 0)
        r = 1;
    for (size_t i = 0; i < n; i++) {
        /* xorshift64*, top 24 bits to [-1, 1) */
        r ^= r >> 12;
        r ^= r << 25;
        r ^= r >> 27;
        uint64_t v = r * 0x2545f4914f6cdd1dull;
        x[i] = bound * ((float)(int32_t)(v >> 32) * (1.0f / 2147483648.0f));
    }
}

static void fill_ones(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = 1.0f;
}

/* Stream ids: tensor kind in the low byte, layer + 1 above it. */
enum { T_EMB = 1, T_LMHEAD, T_WQ, T_WK, T_WV, T_BQ, T_BK, T_BV, T_WO, T_GATE, T_UP, T_DOWN };
static uint64_t sid(int layer, int kind) { return ((uint64_t)(layer + 1) << 8) | (uint64_t)kind; }

int synth_transformer(const model_config *c, uint64_t seed, tf_weights *w, cb_err *err)
{
    if (tf_weights_alloc(c, w, err) != 0)
        return -1;
    size_t d = (size_t)c->d_model, qd = (size_t)c->n_heads * c->head_dim,
           kvd = (size_t)c->n_kv_heads * c->head_dim, f = (size_t)c->ffn_dim;
    const float emb_b = 0.02f * sqrtf(3.0f); /* uniform bound for std 0.02 */
    float in_d = 1.0f / sqrtf((float)d), in_q = 1.0f / sqrtf((float)qd),
          in_f = 1.0f / sqrtf((float)f);
    synth_fill_uniform(w->tok_emb, (size_t)c->vocab * d, emb_b, seed, sid(-1, T_EMB));
    for (int l = 0; l < c->n_layers; l++) {
        tf_layer_weights *L = &w->layers[l];
        fill_ones(L->attn_norm, d);
        synth_fill_uniform(L->wq, qd * d, in_d, seed, sid(l, T_WQ));
        synth_fill_uniform(L->wk, kvd * d, in_d, seed, sid(l, T_WK));
        synth_fill_uniform(L->wv, kvd * d, in_d, seed, sid(l, T_WV));
        if (c->qkv_bias) {
            synth_fill_uniform(L->bq, qd, emb_b, seed, sid(l, T_BQ));
            synth_fill_uniform(L->bk, kvd, emb_b, seed, sid(l, T_BK));
            synth_fill_uniform(L->bv, kvd, emb_b, seed, sid(l, T_BV));
        }
        synth_fill_uniform(L->wo, d * qd, in_q, seed, sid(l, T_WO));
        fill_ones(L->ffn_norm, d);
        synth_fill_uniform(L->w_gate, f * d, in_d, seed, sid(l, T_GATE));
        synth_fill_uniform(L->w_up, f * d, in_d, seed, sid(l, T_UP));
        synth_fill_uniform(L->w_down, d * f, in_f, seed, sid(l, T_DOWN));
    }
    fill_ones(w->final_norm, d);
    if (!c->tied_embeddings)
        synth_fill_uniform(w->lm_head, (size_t)c->vocab * d, emb_b, seed, sid(-1, T_LMHEAD));
    return 0;
}

/* Mamba-1 stream kinds (a separate range from the Transformer's). */
enum { M_INPROJ = 32, M_CONVW, M_CONVB, M_XPROJ, M_DTW, M_DTB, M_OUTPROJ };

int synth_mamba1(const model_config *c, uint64_t seed, m1_weights *w, cb_err *err)
{
    if (m1_weights_alloc(c, w, err) != 0)
        return -1;
    size_t d = (size_t)c->d_model, di = (size_t)c->expand * d, R = (size_t)c->dt_rank,
           N = (size_t)c->d_state;
    const float emb_b = 0.02f * sqrtf(3.0f); /* uniform bound for std 0.02 */
    const double dt_min = 1e-3, dt_max = 1e-1, dt_floor = 1e-4;
    float in_d = 1.0f / sqrtf((float)d), in_i = 1.0f / sqrtf((float)di),
          conv_b = 1.0f / sqrtf((float)OP_CONV1D_WIDTH), dt_w = 1.0f / sqrtf((float)R);
    synth_fill_uniform(w->tok_emb, (size_t)c->vocab * d, emb_b, seed, sid(-1, T_EMB));
    for (int l = 0; l < c->n_layers; l++) {
        m1_layer_weights *L = &w->layers[l];
        fill_ones(L->norm, d);
        synth_fill_uniform(L->in_proj, 2 * di * d, in_d, seed, sid(l, M_INPROJ));
        synth_fill_uniform(L->conv_w, di * OP_CONV1D_WIDTH, conv_b, seed, sid(l, M_CONVW));
        synth_fill_uniform(L->conv_b, di, conv_b, seed, sid(l, M_CONVB));
        synth_fill_uniform(L->x_proj, (R + 2 * N) * di, in_i, seed, sid(l, M_XPROJ));
        synth_fill_uniform(L->dt_proj_w, di * R, dt_w, seed, sid(l, M_DTW));
        /* dt = exp(u (ln dt_max - ln dt_min) + ln dt_min), u in [0, 1);
         * bias = dt + log(-expm1(-dt)), the inverse of softplus. */
        synth_fill_uniform(L->dt_proj_b, di, 1.0f, seed, sid(l, M_DTB));
        for (size_t i = 0; i < di; i++) {
            double u = 0.5 * ((double)L->dt_proj_b[i] + 1.0);
            double dt = exp(u * (log(dt_max) - log(dt_min)) + log(dt_min));
            if (dt < dt_floor)
                dt = dt_floor;
            L->dt_proj_b[i] = (float)(dt + log(-expm1(-dt)));
        }
        for (size_t ch = 0; ch < di; ch++)
            for (size_t n = 0; n < N; n++)
                L->A_log[ch * N + n] = (float)log((double)(n + 1));
        fill_ones(L->D, di);
        synth_fill_uniform(L->out_proj, d * di, in_i, seed, sid(l, M_OUTPROJ));
    }
    fill_ones(w->final_norm, d);
    if (!c->tied_embeddings)
        synth_fill_uniform(w->lm_head, (size_t)c->vocab * d, emb_b, seed, sid(-1, T_LMHEAD));
    return 0;
}
