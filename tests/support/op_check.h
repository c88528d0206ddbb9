/* tests/support/op_check.h — helpers the operator tests (tests/test_op_*.c,
 * tests/test_gemm.c) share: a deterministic generator, float buffers and the check that an entry
 * refuses a bad shape.
 *
 * Test support (tsup_*): linked into every test program, never into the
 * library or the ctxbench binary.  Unlike live_pool.h these run inside a test
 * case and fail it through cmocka (out of memory, a refused check), so a
 * caller never sees NULL. */
#ifndef CTXBENCH_TESTS_SUPPORT_OP_CHECK_H
#define CTXBENCH_TESTS_SUPPORT_OP_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include "operators/op.h"

/* The tests' generator: one step of a 64-bit LCG at *state, the top 24 bits
 * as a double in [0, 1) (exact in float too). */
double tsup_rnd_unit(uint64_t *state);

/* tsup_rnd_unit mapped to a float in [-1, 1). */
float tsup_rnd(uint64_t *state);

/* n floats, 64-byte aligned (at least one, so n = 0 is a valid buffer),
 * uninitialised; the caller frees.  Fails the test when out of memory. */
float *tsup_floats(size_t n);

/* As tsup_floats, every element NaN (so an unwritten output shows). */
float *tsup_nans(size_t n);

/* As tsup_floats, every element 0. */
float *tsup_zeros(size_t n);

/* As tsup_floats, element i = tsup_rnd(state) scale, i ascending. */
float *tsup_rnd_floats(uint64_t *state, size_t n, float scale);

/* Fails the test unless entry e refuses shape d: check returns -1 with a
 * message naming `field`, and create returns -1 leaving the instance NULL. */
void tsup_expect_refused(const op_entry *e, op_dims d, const char *field);

#endif
