/* models/sample.h — choosing the next token from logits: greedy argmax, and
 * seeded sampling with temperature, top-k and top-p (nucleus).
 *
 * Sampling is deterministic from the generator's seed: the same logits,
 * parameters and seed give the same tokens on every machine (the candidate
 * order is fixed by (probability descending, token id ascending), the
 * generator is xorshift64*, and the sums are in double).
 *
 * Never: allocate (the caller provides the scratch), print or exit. */
#ifndef CTXBENCH_MODELS_SAMPLE_H
#define CTXBENCH_MODELS_SAMPLE_H

#include <stddef.h>
#include <stdint.h>

/* A xorshift64* generator; seed it with sample_rng_seed. */
typedef struct sample_rng {
    uint64_t s;
} sample_rng;

/* Any seed (0 included) gives a valid, distinct stream. */
sample_rng sample_rng_seed(uint64_t seed);

/* Uniform in [0, 1) with 53 random bits; advances r. */
double sample_rng_uniform(sample_rng *r);

typedef struct sample_params {
    float temperature; /* <= 0: greedy (argmax) */
    int top_k;         /* keep the k most probable tokens; <= 0 or >= n: all */
    float top_p;       /* keep the smallest prefix of mass >= top_p; >= 1 or <= 0: all */
} sample_params;

/* The index of the largest logit (the first on ties; NaN never wins unless
 * every value is NaN, then 0).  n >= 1. */
int sample_argmax(const float *logits /* (n) */, int n);

/* Bytes of scratch sample_next needs for a vocabulary of n. */
size_t sample_scratch_bytes(int n);

/* The next token: argmax when temperature <= 0, else a draw from
 * softmax(logits / temperature) restricted by top_k then top_p and
 * renormalised.  scratch: sample_scratch_bytes(n) bytes, any alignment of
 * malloc.  Advances r only when it draws.  n >= 1. */
int sample_next(const float *logits /* (n) */, int n, const sample_params *sp, sample_rng *r,
                void *scratch);

#endif
