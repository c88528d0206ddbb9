/* models/sample.c — greedy and seeded top-k / top-p sampling
 * (models/sample.h).  Never allocates, prints or exits. */
#include <math.h>
#include <stdlib.h>

#include "models/sample.h"

sample_rng sample_rng_seed(uint64_t seed)
{
    /* One splitmix64 step, so nearby seeds give unrelated streams and 0 is fine. */
    uint64_t z = seed + 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    sample_rng r = {z ? z : 0x2545f4914f6cdd1dull};
    return r;
}

double sample_rng_uniform(sample_rng *r)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    uint64_t v = r->s * 0x2545f4914f6cdd1dull;
    return (double)(v >> 11) * (1.0 / 9007199254740992.0);
}

int sample_argmax(const float *logits, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (logits[i] > logits[best] || (isnan(logits[best]) && !isnan(logits[i])))
            best = i;
    return best;
}

typedef struct cand {
    double p;
    int id;
} cand;

size_t sample_scratch_bytes(int n) { return (size_t)(n > 0 ? n : 1) * sizeof(cand); }

static int by_prob(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    if (x->p != y->p)
        return x->p > y->p ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

int sample_next(const float *logits, int n, const sample_params *sp, sample_rng *r,
                void *scratch)
{
    if (!(sp->temperature > 0))
        return sample_argmax(logits, n);
    cand *c = scratch;
    int best = sample_argmax(logits, n);
    double mx = logits[best], inv_t = 1.0 / sp->temperature, sum = 0;
    if (!isfinite(mx))
        return best;
    /* Softmax of logits / T (unnormalised weights; NaN counts as 0). */
    for (int i = 0; i < n; i++) {
        double e = isnan(logits[i]) ? 0 : exp(((double)logits[i] - mx) * inv_t);
        c[i].p = e;
        c[i].id = i;
        sum += e;
    }
    int k = n;
    int use_k = sp->top_k > 0 && sp->top_k < n, use_p = sp->top_p > 0 && sp->top_p < 1;
    if (use_k || use_p) {
        qsort(c, (size_t)n, sizeof *c, by_prob);
        if (use_k)
            k = sp->top_k;
        if (use_p) {
            /* The nucleus of what top-k kept, renormalised (HF's warper
             * order: top-k, then top-p). */
            double kept = 0, acc = 0;
            for (int i = 0; i < k; i++)
                kept += c[i].p;
            for (int i = 0; i < k; i++) {
                acc += c[i].p;
                if (acc >= sp->top_p * kept) {
                    k = i + 1;
                    break;
                }
            }
        }
        sum = 0;
        for (int i = 0; i < k; i++)
            sum += c[i].p;
    }
    double u = sample_rng_uniform(r) * sum, acc = 0;
    for (int i = 0; i < k; i++) {
        acc += c[i].p;
        if (u < acc)
            return c[i].id;
    }
    /* Rounding left u at the very end: the last candidate of non-zero weight. */
    for (int i = k - 1; i > 0; i--)
        if (c[i].p > 0)
            return c[i].id;
    return c[0].id;
}
