/* experiments/spec.h — the declarative experiment file and its sweep.
 *
 * An experiment file is INI (parsed by inih) with these sections:
 *
 *   [experiment]  name, title, runner, and run control: repetitions (minimum
 *                 repetitions per point), warmups, min_time, max_time (seconds),
 *                 max_reps, order (sequential | shuffled), seed, flush_cache and
 *                 counters (yes | no)
 *   [sweep]       one key per runner parameter, each a list of values
 *   [quick]       overrides of [sweep] keys or run-control keys at the quick scale
 *   [full]        the same at the full scale
 *
 * A value list is comma separated, and may go on over indented lines (joined
 * as more items of the list); an item is a value (an integer, a word, or
 * `ncores`, the number of cores of the machine) or a range: `a..b` (step 1),
 * `a..b +k` (arithmetic) or `a..b xk` (geometric), e.g. `512..65536 x2`.
 *
 * exp_spec_load() refuses, naming the file and line: unknown sections or keys,
 * duplicate keys, malformed numbers or ranges, an unknown runner, values a
 * parameter does not allow (e.g. an unknown operator), and empty sweeps.  It
 * touches no database.  Points are expanded in the runner's parameter order,
 * the last parameter varying fastest; a parameter the runner says does not
 * matter at a point is left out of its identity (and duplicates dropped); a
 * point the runner cannot run by design is dropped and counted;
 * `order = shuffled` permutes the points with the seed. */
#ifndef CTXBENCH_EXPERIMENTS_SPEC_H
#define CTXBENCH_EXPERIMENTS_SPEC_H

#include <stdint.h>

#include "experiments/runner.h"
#include "platforms/measure.h"
#include "util/error.h"
#include "util/hash.h"

typedef struct exp_spec {
    char *path;                 /* as given */
    char *text;                 /* the whole file */
    char config_hash[CB_SHA256_HEX_LEN]; /* sha256 of text */
    char name[64];
    char title[256];
    char scale[16];             /* "quick" or "full" */
    const exp_runner *runner;
    meas_opts meas;             /* run control for every point */
    int shuffled;               /* order = shuffled */
    uint64_t seed;
    exp_point *points;          /* (n_points) expanded sweep, in run order */
    int n_points;
    int n_inapplicable;         /* points the runner refused by design (dropped) */
    char inapplicable_why[768]; /* the first such point and its reason */
} exp_spec;

/* Reads, validates and expands an experiment file at a scale ("quick" or
 * "full"); ncores is what `ncores` stands for.  Returns 0 and a spec the caller
 * frees with exp_spec_free(), or -1 with err as "PATH:LINE: what is wrong". */
int exp_spec_load(const char *path, const char *scale, int ncores, exp_spec **out,
                  cb_err *err);
void exp_spec_free(exp_spec *spec); /* NULL is a no-op */

/* The same for an experiment held in memory; origin stands for the path in
 * error messages and in the run's provenance. */
int exp_spec_from_text(const char *origin, const char *text, const char *scale, int ncores,
                       exp_spec **out, cb_err *err);

/* Parses one value list (the grammar above) into integers; exposed for tests.
 * Returns the count (>= 0) and a heap array in *out (caller frees), or -1 with
 * err describing the malformed item. */
int exp_parse_int_list(const char *text, int ncores, int64_t **out, cb_err *err);

#endif
