/* tests/support/model_check.h — helpers the model tests share (Transformer,
 * Mamba-1): a partition of the live pool, deterministic prompts, logits
 * compared within a tolerance, and a config refusal that must name its field.
 * Test support (tsup_*): these assert through cmocka (fail_msg). */
#ifndef CTXBENCH_TESTS_SUPPORT_MODEL_CHECK_H
#define CTXBENCH_TESTS_SUPPORT_MODEL_CHECK_H

#include <stdint.h>

#include "models/model.h"
#include "platforms/pool.h"
#include "tests/support/live_pool.h"

/* The first min(n, pool size) workers of the live pool; fails the test otherwise. */
void tsup_part_first(tsup_live *l, int n, pool_part *part);

/* n deterministic token ids below vocab, different for each salt. */
void tsup_tokens(int *t, int n, int vocab, uint64_t salt);

/* Fails unless a (n) matches b (n) within tol x (max |b| + 1e-3); returns the
 * worst relative difference. */
double tsup_check_logits(const char *what, const float *a, const float *b, int n, double tol);

/* Fails unless model_config_check refuses c with a message naming field. */
void tsup_expect_config_refused(model_config c, const char *field);

#endif
