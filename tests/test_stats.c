/* tests/test_stats.c — platforms/stats.c on known samples.
 *
 * Exact expectations were computed with numpy (np.median, np.mean,
 * np.std(ddof=1), np.percentile with its default linear method = type 7,
 * np.median(abs(x - median)) for the MAD); the median CI ranks follow the
 * formula in stats.h.  Random samples use a seeded splitmix64 so every run
 * sees the same numbers.
 *
 * The comparison statistics (cases 18 on) are checked against: textbook
 * values (exact p of completely separated samples = 2 / C(na + nb, na); the
 * null distribution of U for sizes 3 and 4 as printed in Mann-Whitney
 * tables); R's wilcox.test output where quoted; the example of R's
 * statpsych::ci.ratio.median2 (its documentation prints the interval); and,
 * for the rest, a separate Python 3 script written for this test (brute-force
 * enumeration of all C(N, na) rank subsets for exact p, R's normal formula
 * with tie and continuity corrections, statistics.NormalDist for Phi^-1) —
 * the values are quoted with it beside them.  Coverage and type-I error are
 * checked by seeded simulation.
 *
 * Never: timing or performance assertions. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platforms/stats.h"

#define assert_close(a, b, tol) assert_close_at((a), (b), (tol), #a, __FILE__, __LINE__)

static void assert_close_at(double got, double want, double tol, const char *what,
                            const char *file, int line)
{
    if (!(fabs(got - want) <= tol)) {
        print_error("%s:%d: %s = %.17g, want %.17g (tol %g)\n", file, line, what, got, want, tol);
        fail();
    }
}

/* Tolerance for values numpy gives exactly (up to rounding). */
#define EXACT(v) (1e-12 * (fabs(v) > 1 ? fabs(v) : 1))

static uint64_t rng_state;

static uint64_t splitmix64(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in (0, 1): never exactly 0, so log() in Box-Muller is safe. */
static double uniform01(void)
{
    return ((double)(splitmix64() >> 11) + 0.5) / 9007199254740992.0;
}

static void fill_normal(double *x, int n)
{
    for (int i = 0; i < n; i += 2) {
        double u1 = uniform01(), u2 = uniform01();
        double r = sqrt(-2 * log(u1));
        x[i] = r * cos(2 * M_PI * u2);
        if (i + 1 < n)
            x[i + 1] = r * sin(2 * M_PI * u2);
    }
}

static void test_01_one_to_ten(void **state)
{
    (void)state;
    const double x[] = {7, 3, 10, 1, 5, 9, 2, 8, 6, 4}; /* shuffled: the code must sort */
    meas_stats s;
    assert_int_equal(stats_compute(x, 10, &s), 0);
    assert_int_equal(s.n, 10);
    assert_close(s.median, 5.5, EXACT(5.5));
    assert_close(s.mean, 5.5, EXACT(5.5));
    assert_close(s.stddev, 3.0276503540974917, EXACT(3.0));
    assert_close(s.mad, 2.5, EXACT(2.5));
    assert_close(s.min, 1, 0);
    assert_close(s.max, 10, 0);
    assert_close(s.p05, 1.45, EXACT(1.45));
    assert_close(s.p95, 9.55, EXACT(9.55));
    assert_close(s.ci_lo, 1, 0); /* ranks floor(5 - 3.099) = 1 .. ceil(5 + 3.099) = 9 */
    assert_close(s.ci_hi, 9, 0);
    assert_close(s.cv, 0.5504818825631803, EXACT(0.55));
}

static void test_02_single_value(void **state)
{
    (void)state;
    const double x[] = {3.25};
    meas_stats s;
    assert_int_equal(stats_compute(x, 1, &s), 0);
    assert_int_equal(s.n, 1);
    assert_close(s.median, 3.25, 0);
    assert_close(s.mean, 3.25, 0);
    assert_close(s.stddev, 0, 0);
    assert_close(s.mad, 0, 0);
    assert_close(s.min, 3.25, 0);
    assert_close(s.max, 3.25, 0);
    assert_close(s.p05, 3.25, 0);
    assert_close(s.p95, 3.25, 0);
    assert_close(s.ci_lo, 3.25, 0);
    assert_close(s.ci_hi, 3.25, 0);
    assert_close(s.cv, 0, 0);
}

static void test_03_two_values(void **state)
{
    (void)state;
    const double x[] = {4, 2};
    meas_stats s;
    assert_int_equal(stats_compute(x, 2, &s), 0);
    assert_close(s.median, 3, 0);
    assert_close(s.mean, 3, 0);
    assert_close(s.stddev, 1.4142135623730951, EXACT(1.4));
    assert_close(s.mad, 1, 0);
    assert_close(s.p05, 2.1, EXACT(2.1));
    assert_close(s.p95, 3.9, EXACT(3.9));
    assert_close(s.ci_lo, 2, 0); /* tiny n: the CI widens to min..max */
    assert_close(s.ci_hi, 4, 0);
    assert_close(s.cv, 0.47140452079103173, EXACT(0.47));
}

static void test_04_all_equal(void **state)
{
    (void)state;
    double x[9];
    for (int i = 0; i < 9; i++)
        x[i] = 7.0;
    meas_stats s;
    assert_int_equal(stats_compute(x, 9, &s), 0);
    assert_close(s.median, 7, 0);
    assert_close(s.mean, 7, 0);
    assert_close(s.stddev, 0, 0);
    assert_close(s.mad, 0, 0);
    assert_close(s.p05, 7, 0);
    assert_close(s.p95, 7, 0);
    assert_close(s.ci_lo, 7, 0);
    assert_close(s.ci_hi, 7, 0);
    assert_close(s.cv, 0, 0);
}

static void test_05_outlier(void **state)
{
    (void)state;
    const double x[] = {10, 11, 9, 10, 12, 10, 11, 1000};
    meas_stats s;
    assert_int_equal(stats_compute(x, 8, &s), 0);
    /* the robust statistics ignore the outlier, the mean and stddev do not */
    assert_close(s.median, 10.5, 0);
    assert_close(s.mad, 0.5, 0);
    assert_close(s.ci_lo, 9, 0);  /* ranks 1..7 of 9,10,10,10,11,11,12,1000 */
    assert_close(s.ci_hi, 12, 0);
    assert_close(s.mean, 134.125, EXACT(134.125));
    assert_close(s.stddev, 349.8675004300097, EXACT(349.9));
    assert_close(s.p05, 9.35, EXACT(9.35));
    assert_close(s.p95, 654.1999999999995, EXACT(654.2));
    assert_close(s.cv, 2.608518176551797, EXACT(2.6));
    assert_close(s.max, 1000, 0);
}

static void test_06_irregular_timings(void **state)
{
    (void)state;
    const double x[] = {0.00123, 0.00119, 0.00131, 0.00125, 0.00118, 0.00240, 0.00121,
                        0.00122, 0.00127, 0.00120, 0.00124, 0.00119, 0.00126};
    meas_stats s;
    assert_int_equal(stats_compute(x, 13, &s), 0);
    assert_close(s.median, 0.00123, 1e-15);
    assert_close(s.mean, 0.0013192307692307694, 1e-15);
    assert_close(s.stddev, 0.00032683995926807805, 1e-15);
    assert_close(s.mad, 3.000000000000008e-05, 1e-15);
    assert_close(s.p05, 0.001186, 1e-15);
    assert_close(s.p95, 0.0017459999999999984, 1e-15);
    assert_close(s.ci_lo, 0.00119, 0); /* ranks floor(6.5 - 3.533) = 2 .. ceil(10.03) = 11 */
    assert_close(s.ci_hi, 0.00127, 0);
    assert_close(s.cv, 0.2477504064422749, 1e-12);
}

static void test_07_ci_ranks_n100(void **state)
{
    (void)state;
    double x[100];
    for (int i = 0; i < 100; i++)
        x[i] = 100 - i; /* descending input */
    meas_stats s;
    assert_int_equal(stats_compute(x, 100, &s), 0);
    assert_close(s.median, 50.5, 0);
    assert_close(s.ci_lo, 40, 0); /* floor(50 - 9.8) = 40, ceil(50 + 9.8) = 60 */
    assert_close(s.ci_hi, 60, 0);
    assert_close(s.mad, 25, 0);
    assert_close(s.p05, 5.95, EXACT(5.95));
    assert_close(s.p95, 95.05, EXACT(95.05));
    assert_close(s.stddev, 29.011491975882016, EXACT(29.0));
}

static void test_08_uniform_grid_exact(void **state)
{
    (void)state;
    int n = 10001;
    double *x = malloc((size_t)n * sizeof *x);
    assert_non_null(x);
    for (int i = 0; i < n; i++)
        x[i] = i / 10000.0;
    meas_stats s;
    assert_int_equal(stats_compute(x, n, &s), 0);
    assert_close(s.median, 0.5, 1e-15);
    assert_close(s.p05, 0.05, 1e-15);
    assert_close(s.p95, 0.95, 1e-15);
    assert_close(s.mad, 0.25, 1e-15);
    assert_close(s.ci_lo, 0.4901, 1e-15); /* ranks 4902 .. 5099 */
    assert_close(s.ci_hi, 0.5098, 1e-15);
    free(x);
}

static void test_09_uniform_random(void **state)
{
    (void)state;
    int n = 10001;
    double *x = malloc((size_t)n * sizeof *x);
    assert_non_null(x);
    rng_state = 12345;
    for (int i = 0; i < n; i++)
        x[i] = uniform01();
    meas_stats s;
    assert_int_equal(stats_compute(x, n, &s), 0);
    assert_close(s.median, 0.5, 0.02);
    assert_close(s.mean, 0.5, 0.02);
    assert_close(s.p05, 0.05, 0.01);
    assert_close(s.p95, 0.95, 0.01);
    assert_close(s.stddev, sqrt(1.0 / 12), 0.01);
    assert_close(s.mad, 0.25, 0.02);
    assert_true(s.min >= 0 && s.min < 0.01);
    assert_true(s.max <= 1 && s.max > 0.99);
    assert_true(s.ci_lo <= s.median && s.median <= s.ci_hi);
    free(x);
}

static void test_10_normal_box_muller(void **state)
{
    (void)state;
    int n = 10001;
    double *x = malloc((size_t)n * sizeof *x);
    assert_non_null(x);
    rng_state = 1; /* seed 42 happens to be one of the ~4% of samples whose CI misses */
    fill_normal(x, n);
    meas_stats s;
    assert_int_equal(stats_compute(x, n, &s), 0);
    assert_close(s.mean, 0, 0.05);
    assert_close(s.median, 0, 0.05);
    assert_close(s.stddev, 1, 0.05);
    assert_close(s.mad, 0.6744897501960817, 0.05); /* Phi^-1(0.75) */
    assert_close(s.p05, -1.6448536269514729, 0.1);
    assert_close(s.p95, 1.6448536269514729, 0.1);
    assert_true(s.ci_lo <= 0 && 0 <= s.ci_hi);
    assert_true(s.ci_hi - s.ci_lo < 0.1); /* about 2 * 1.96 * 1.2533 / sqrt(n) = 0.049 */
    free(x);
}

static void test_11_input_unchanged(void **state)
{
    (void)state;
    double x[257], copy[257];
    rng_state = 7;
    for (int i = 0; i < 257; i++)
        x[i] = uniform01() * 1000 - 500;
    memcpy(copy, x, sizeof x);
    meas_stats s;
    assert_int_equal(stats_compute(x, 257, &s), 0);
    assert_memory_equal(x, copy, sizeof x);
}

static void test_12_empty_fails(void **state)
{
    (void)state;
    const double x[] = {1, 2, 3};
    meas_stats s;
    memset(&s, 0xab, sizeof s);
    assert_int_equal(stats_compute(x, 0, &s), -1);
    assert_int_equal(s.n, 0);
    assert_close(s.median, 0, 0);
    assert_close(s.max, 0, 0);
    assert_int_equal(stats_compute(x, -3, &s), -1);
    assert_int_equal(stats_compute(NULL, 3, &s), -1);
    assert_int_equal(s.n, 0);
}

static void test_13_zero_mean_cv(void **state)
{
    (void)state;
    const double x[] = {-1, 1};
    meas_stats s;
    assert_int_equal(stats_compute(x, 2, &s), 0);
    assert_close(s.mean, 0, 0);
    assert_close(s.stddev, sqrt(2), EXACT(1.4));
    assert_close(s.cv, 0, 0); /* stats.h: 0 when the mean is 0 */
}

/* Timings share a large common offset (nanosecond stamps): a one-pass
 * sum-of-squares variance loses every digit here, the two-pass one does not. */
static void test_14_large_offset_stddev(void **state)
{
    (void)state;
    const double x[] = {1e9 + 1, 1e9 + 2, 1e9 + 3};
    meas_stats s;
    assert_int_equal(stats_compute(x, 3, &s), 0);
    assert_close(s.mean, 1e9 + 2, 0);
    assert_close(s.stddev, 1, 1e-9);
    assert_close(s.mad, 1, 0);
}

static void test_15_quantile_sorted(void **state)
{
    (void)state;
    const double x[] = {1, 2, 3, 4, 5};
    assert_close(stats_quantile_sorted(x, 5, 0), 1, 0);
    assert_close(stats_quantile_sorted(x, 5, 1), 5, 0);
    assert_close(stats_quantile_sorted(x, 5, 0.25), 2, 0);
    assert_close(stats_quantile_sorted(x, 5, 0.1), 1.4, EXACT(1.4));
    assert_close(stats_quantile_sorted(x, 5, 0.5), 3, 0);
    assert_close(stats_quantile_sorted(x, 5, -0.5), 1, 0); /* clamped */
    assert_close(stats_quantile_sorted(x, 5, 1.5), 5, 0);
    assert_close(stats_quantile_sorted(x, 1, 0.7), 1, 0);
    assert_true(isnan(stats_quantile_sorted(x, 0, 0.5)));
    assert_true(isnan(stats_quantile_sorted(NULL, 5, 0.5)));
}

static void test_16_ci_tiny_n_is_min_max(void **state)
{
    (void)state;
    /* up to n = 7 the rank interval covers the whole sample */
    const double x[] = {5, 1, 4, 2, 3, 7, 6};
    for (int n = 1; n <= 7; n++) {
        meas_stats s;
        assert_int_equal(stats_compute(x, n, &s), 0);
        assert_close(s.ci_lo, s.min, 0);
        assert_close(s.ci_hi, s.max, 0);
    }
    const double y[] = {1, 2, 3, 4, 5, 6, 7, 8};
    meas_stats s;
    assert_int_equal(stats_compute(y, 8, &s), 0); /* ranks floor(1.23) = 1 .. ceil(6.77) = 7 */
    assert_close(s.ci_lo, 1, 0);
    assert_close(s.ci_hi, 7, 0);
}

/* The CI of the median is a 95% interval: over many seeded normal samples it
 * must cover the true median about 95% of the time (rounding the ranks
 * outward makes it a little conservative: 196 of these 200 cover). */
static void test_17_ci_coverage(void **state)
{
    (void)state;
    int n = 1001, trials = 200, covered = 0;
    double *x = malloc((size_t)n * sizeof *x);
    assert_non_null(x);
    for (int t = 1; t <= trials; t++) {
        rng_state = (uint64_t)t;
        fill_normal(x, n);
        meas_stats s;
        assert_int_equal(stats_compute(x, n, &s), 0);
        covered += s.ci_lo <= 0 && 0 <= s.ci_hi;
    }
    double frac = (double)covered / trials;
    assert_true(frac >= 0.92 && frac < 0.995);
    free(x);
}

/* ---- comparing two samples ---- */

static void test_18_normal_cdf_and_quantile(void **state)
{
    (void)state;
    /* Python: NormalDist().cdf(-1), inv_cdf(0.975), inv_cdf(1e-10) */
    assert_close(stats_norm_cdf(-1), 0.15865525393145707, 1e-15);
    assert_close(stats_norm_cdf(0), 0.5, 0);
    assert_close(stats_norm_quantile(0.975), 1.9599639845400536, 1e-13);
    assert_close(stats_norm_quantile(0.025), -1.9599639845400538, 1e-13);
    assert_close(stats_norm_quantile(1e-10), -6.3613409024040557, 1e-12);
    assert_close(stats_norm_quantile(0.5), 0, 1e-15);
    assert_true(isinf(stats_norm_quantile(0)) && stats_norm_quantile(0) < 0);
    assert_true(isinf(stats_norm_quantile(1)) && stats_norm_quantile(1) > 0);
    assert_true(isnan(stats_norm_quantile(NAN)));
    for (double p = 1e-300; p < 1e-3; p *= 1e7) /* the far tail */
        assert_close(stats_norm_cdf(stats_norm_quantile(p)), p, 1e-11 * p);
    for (double p = 1e-3; p < 1; p += 0.0371)
        assert_close(stats_norm_cdf(stats_norm_quantile(p)), p, 1e-14);
}

static void test_19_null_counts_table(void **state)
{
    (void)state;
    /* sizes 3 and 4: the frequencies of U = 0..12 in Mann-Whitney tables */
    const double want34[] = {1, 1, 2, 3, 4, 4, 5, 4, 4, 3, 2, 1, 1};
    double got[13], swapped[13];
    assert_int_equal(stats_mw_null_counts(3, 4, got), 0);
    assert_memory_equal(got, want34, sizeof want34);
    assert_int_equal(stats_mw_null_counts(4, 3, swapped), 0); /* U's law is symmetric in sizes */
    assert_memory_equal(swapped, want34, sizeof want34);
    /* sizes 4 and 5 (Python enumeration of the 126 subsets) */
    const double want45[] = {1, 1, 2, 3, 5, 6, 8, 9, 11, 11, 12, 11, 11, 9, 8, 6, 5, 3, 2, 1, 1};
    double got45[21];
    assert_int_equal(stats_mw_null_counts(4, 5, got45), 0);
    assert_memory_equal(got45, want45, sizeof want45);
    double one[2];
    assert_int_equal(stats_mw_null_counts(1, 1, one), 0);
    assert_close(one[0], 1, 0);
    assert_close(one[1], 1, 0);
    assert_int_equal(stats_mw_null_counts(0, 3, got), -1);
    assert_int_equal(stats_mw_null_counts(3, 0, got), -1);
    assert_int_equal(stats_mw_null_counts(200, 200, got), -1); /* beyond the table limit */
    assert_int_equal(stats_mw_null_counts(3, 4, NULL), -1);
}

/* The recurrence against brute force: every subset of m ranks out of m + n
 * (a bit mask), U = (sum of its ranks) - m (m + 1) / 2, for all m, n <= 7. */
static void test_20_null_counts_match_enumeration(void **state)
{
    (void)state;
    for (int m = 1; m <= 7; m++)
        for (int n = 1; n <= 7; n++) {
            double counts[50], brute[50] = {0};
            assert_int_equal(stats_mw_null_counts(m, n, counts), 0);
            for (unsigned mask = 0; mask < 1u << (m + n); mask++) {
                if (__builtin_popcount(mask) != m)
                    continue;
                int rank_sum = 0;
                for (int r = 0; r < m + n; r++)
                    rank_sum += mask >> r & 1 ? r + 1 : 0;
                brute[rank_sum - m * (m + 1) / 2] += 1;
            }
            assert_memory_equal(counts, brute, (size_t)(m * n + 1) * sizeof *counts);
        }
}

static void test_21_separated_samples_exact(void **state)
{
    (void)state;
    const double lo[] = {1, 2, 3, 4, 5}, hi[] = {6, 7, 8, 9, 10};
    stats_mw t;
    /* R: wilcox.test(4:6, 1:3) gives W = 9, p-value = 0.1 */
    assert_int_equal(stats_mann_whitney(lo, 3, hi, 3, &t), 0);
    assert_close(t.u, 9, 0);
    assert_close(t.p, 0.1, 1e-15);
    assert_int_equal(t.exact, 1);
    assert_int_equal(t.ties, 0);
    assert_true(t.z > 0);
    assert_int_equal(stats_mann_whitney(hi, 3, lo, 3, &t), 0); /* the other way round */
    assert_close(t.u, 0, 0);
    assert_close(t.p, 0.1, 1e-15);
    assert_true(t.z < 0);
    /* 2 / C(8, 4) and 2 / C(10, 5), and the same as the smallest attainable p */
    assert_int_equal(stats_mann_whitney(lo, 4, hi, 4, &t), 0);
    assert_close(t.p, 2.0 / 70, 1e-15);
    assert_close(stats_mw_min_p(4, 4), 2.0 / 70, 1e-15);
    assert_int_equal(stats_mann_whitney(lo, 5, hi, 5, &t), 0);
    assert_close(t.p, 2.0 / 252, 1e-15);
    assert_close(stats_mw_min_p(5, 5), 2.0 / 252, 1e-15);
    /* unequal sizes: 1 against 4 can never go below 2/5 */
    assert_int_equal(stats_mann_whitney(lo, 1, hi, 4, &t), 0);
    assert_close(t.u, 4, 0);
    assert_close(t.p, 0.4, 1e-15);
}

static void test_22_all_equal_samples(void **state)
{
    (void)state;
    const double x[] = {7, 7, 7, 7, 7, 7, 7};
    stats_mw t;
    assert_int_equal(stats_mann_whitney(x, 3, x, 4, &t), 0);
    assert_close(t.u, 6, 0); /* every pair a tie: 12 pairs x 1/2 */
    assert_int_equal(t.ties, 1);
    assert_int_equal(t.exact, 0);
    assert_close(t.z, 0, 0);
    assert_close(t.p, 1, 0);
}

/* The data of R's ?wilcox.test (x: depression scale before, y: after).  y has
 * ties (1.06 twice, 1.29 twice), so R uses the normal approximation and
 * prints W = 58, p-value = 0.1329 for wilcox.test(x, y); our U of b = x. */
static void test_23_r_example_with_ties(void **state)
{
    (void)state;
    const double x[] = {1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30};
    const double y[] = {0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29};
    stats_mw t;
    assert_int_equal(stats_mann_whitney(y, 9, x, 9, &t), 0);
    assert_close(t.u, 58, 0);
    assert_int_equal(t.ties, 1);
    assert_int_equal(t.exact, 0);
    assert_close(t.z, 1.502688234205555, 1e-12); /* Python, R's formula */
    assert_close(t.p, 0.1329194581853188, 1e-12);
}

static void test_24_unequal_sizes_exact(void **state)
{
    (void)state;
    const double a[] = {0.62, 0.91, 1.40, 0.35, 1.12};
    const double b[] = {1.05, 1.73, 0.98, 2.21, 1.64, 1.37, 1.90};
    stats_mw t;
    assert_int_equal(stats_mann_whitney(a, 5, b, 7, &t), 0);
    assert_close(t.u, 30, 0);
    assert_int_equal(t.exact, 1);
    assert_close(t.p, 38.0 / 792, 1e-15); /* Python enumeration: 19 of C(12, 5) in the lower tail */
    assert_close(t.z, 1.9487950630587603, 1e-12); /* the normal figure is given too */
}

static void test_25_large_samples_normal(void **state)
{
    (void)state;
    double a[60], b[80];
    for (int i = 0; i < 60; i++)
        a[i] = 1000 + 13 * i;
    for (int j = 0; j < 80; j++)
        b[j] = 1300 + 11 * j + 0.5; /* no ties */
    stats_mw t;
    assert_int_equal(stats_mann_whitney(a, 60, b, 80, &t), 0);
    assert_int_equal(t.exact, 0); /* 80 > STATS_MW_EXACT_MAX */
    assert_int_equal(t.ties, 0);
    assert_close(t.u, 3999, 0); /* Python */
    assert_close(t.z, 6.730899229124153, 1e-12);
    assert_close(t.p, 1.6861772063535962e-11, 1e-24); /* Python: math.erfc(z / sqrt(2)) */
    /* heavy ties: tie-corrected sigma */
    for (int i = 0; i < 60; i++)
        a[i] = 100 + i / 3;
    for (int j = 0; j < 80; j++)
        b[j] = 103 + j / 5;
    assert_int_equal(stats_mann_whitney(a, 60, b, 80, &t), 0);
    assert_int_equal(t.ties, 1);
    assert_close(t.u, 2640, 0); /* Python */
    assert_close(t.z, 1.0099798396102755, 1e-12);
    assert_close(t.p, 0.3125049490278246, 1e-12);
}

static void test_26_smallest_attainable_p(void **state)
{
    (void)state;
    assert_close(stats_mw_min_p(2, 2), 1.0 / 3, 1e-15);
    assert_close(stats_mw_min_p(3, 3), 0.1, 1e-15);
    assert_close(stats_mw_min_p(1, 4), 0.4, 1e-15);
    assert_close(stats_mw_min_p(4, 1), 0.4, 1e-15);
    assert_close(stats_mw_min_p(1, 1), 1, 0);
    assert_close(stats_mw_min_p(2, 20), 2.0 / 231, 1e-15);
    /* beyond the exact range, the normal approximation at U = 0 (Python) */
    assert_close(stats_mw_min_p(1, 60), 0.093838639034110022, 1e-13);
    assert_close(stats_mw_min_p(50, 50), 7.0660719303890289e-18, 1e-28);
    assert_true(isnan(stats_mw_min_p(0, 5)));
    /* the bound is attained: 2 against 20, completely separated */
    double a[2] = {1, 2}, b[20];
    for (int j = 0; j < 20; j++)
        b[j] = 10 + j;
    stats_mw t;
    assert_int_equal(stats_mann_whitney(a, 2, b, 20, &t), 0);
    assert_close(t.p, stats_mw_min_p(2, 20), 1e-15);
}

static void test_27_mann_whitney_bad_input(void **state)
{
    (void)state;
    const double x[] = {1, 2, NAN};
    stats_mw t;
    assert_int_equal(stats_mann_whitney(x, 0, x, 2, &t), -1);
    assert_int_equal(stats_mann_whitney(x, 2, NULL, 2, &t), -1);
    assert_int_equal(stats_mann_whitney(x, 2, x, 3, &t), -1); /* NaN */
    assert_close(t.p, 0, 0);
}

/* Under the null hypothesis (both samples from one distribution) the test
 * rejects at 0.05 about 5% of the time, exact and normal alike. */
static void test_28_type_one_error(void **state)
{
    (void)state;
    const int sizes[][2] = {{10, 12}, {60, 45}};
    for (int s = 0; s < 2; s++) {
        int na = sizes[s][0], nb = sizes[s][1], trials = 600, rejected = 0;
        double a[60], b[60];
        rng_state = 99 + (uint64_t)s;
        for (int t = 0; t < trials; t++) {
            fill_normal(a, na);
            fill_normal(b, nb);
            stats_mw r;
            assert_int_equal(stats_mann_whitney(a, na, b, nb, &r), 0);
            assert_int_equal(r.exact, s == 0);
            rejected += r.p < 0.05;
        }
        double rate = (double)rejected / trials;
        assert_true(rate > 0.025 && rate < 0.08);
    }
}

/* R statpsych::ci.ratio.median2(.05, y1, y2) documents Median1 = 43,
 * Median2 = 37, ratio 1.162162, LL 0.927667, UL 1.455933; our b is y1. */
static void test_29_ratio_ci_statpsych_example(void **state)
{
    (void)state;
    const double y2[] = {32, 39, 26, 35, 43, 27, 40, 37, 34, 29, 49, 42, 40};
    const double y1[] = {36, 44, 47, 42, 49, 39, 46, 31, 33, 48};
    stats_ratio r;
    assert_int_equal(stats_median_ratio_ci(y2, 13, y1, 10, 0.95, &r), 0);
    assert_close(r.median_a, 37, 0);
    assert_close(r.median_b, 43, 0);
    assert_close(r.ratio, 43.0 / 37, 1e-15);
    assert_close(r.lo, 0.927667, 5e-7);
    assert_close(r.hi, 1.455933, 5e-7);
    assert_close(r.lo, 0.9276669572, 1e-9); /* Python, more digits */
    assert_close(r.hi, 1.455932952, 1e-9);
    assert_close(r.se_log, 0.1149841006, 1e-9);
    /* unequal sizes 5 and 7 (Python) */
    const double a[] = {0.62, 0.91, 1.40, 0.35, 1.12};
    const double b[] = {1.05, 1.73, 0.98, 2.21, 1.64, 1.37, 1.90};
    assert_int_equal(stats_median_ratio_ci(a, 5, b, 7, 0.95, &r), 0);
    assert_close(r.ratio, 1.802197802, 1e-9);
    assert_close(r.lo, 0.8094859394, 1e-9);
    assert_close(r.hi, 4.012320363, 1e-9);
}

static void test_30_ratio_ci_edges(void **state)
{
    (void)state;
    const double c[] = {2, 2, 2, 2}, d[] = {3, 3, 3, 3, 3};
    stats_ratio r;
    /* no spread at all: the interval shrinks to the ratio */
    assert_int_equal(stats_median_ratio_ci(c, 4, d, 5, 0.95, &r), 0);
    assert_close(r.ratio, 1.5, 0);
    assert_close(r.lo, 1.5, 0);
    assert_close(r.hi, 1.5, 0);
    /* one value on a side: a ratio, but no interval */
    assert_int_equal(stats_median_ratio_ci(c, 1, d, 5, 0.95, &r), 0);
    assert_close(r.ratio, 1.5, 0);
    assert_true(isnan(r.lo) && isnan(r.hi) && isnan(r.se_log));
    /* times must be positive; the level must be a probability */
    const double z[] = {1, 0, 2}, n[] = {1, NAN, 2};
    assert_int_equal(stats_median_ratio_ci(z, 3, d, 5, 0.95, &r), -1);
    assert_true(isnan(r.ratio));
    assert_int_equal(stats_median_ratio_ci(d, 5, n, 3, 0.95, &r), -1);
    assert_int_equal(stats_median_ratio_ci(c, 4, d, 5, 1.0, &r), -1);
    assert_int_equal(stats_median_ratio_ci(c, 0, d, 5, 0.95, &r), -1);
    /* a higher level gives a wider interval around the same ratio */
    const double a[] = {0.62, 0.91, 1.40, 0.35, 1.12};
    stats_ratio r90, r99;
    assert_int_equal(stats_median_ratio_ci(a, 5, d, 5, 0.90, &r90), 0);
    assert_int_equal(stats_median_ratio_ci(a, 5, d, 5, 0.99, &r99), 0);
    assert_true(r99.lo < r90.lo && r90.hi < r99.hi);
}

/* Coverage by simulation: log-normal timings, B = 1.3 x A in distribution, so
 * the true ratio of medians is 1.3; the 95% interval must contain it about
 * 95% of the time (Bonett & Price report near-nominal coverage from n = 10). */
static void test_31_ratio_ci_coverage(void **state)
{
    (void)state;
    int trials = 500, covered = 0;
    double a[15], b[25];
    rng_state = 2024;
    for (int t = 0; t < trials; t++) {
        fill_normal(a, 15);
        fill_normal(b, 25);
        for (int i = 0; i < 15; i++)
            a[i] = 1e-3 * exp(0.2 * a[i]);
        for (int j = 0; j < 25; j++)
            b[j] = 1.3e-3 * exp(0.2 * b[j]);
        stats_ratio r;
        assert_int_equal(stats_median_ratio_ci(a, 15, b, 25, 0.95, &r), 0);
        covered += r.lo <= 1.3 && 1.3 <= r.hi;
    }
    double frac = (double)covered / trials;
    assert_true(frac >= 0.92 && frac <= 0.99);
}

static void test_32_geomean_bootstrap(void **state)
{
    (void)state;
    const double r[] = {1, 4};
    double gm, lo, hi, gm2, lo2, hi2;
    assert_int_equal(stats_geomean_ci(r, 2, 0.95, 2000, 42, &gm, &lo, &hi), 0);
    assert_close(gm, 2, 1e-15);
    /* resamples of two values: geometric means 1, 2 or 4, so the 2.5% and
     * 97.5% points are 1 and 4 (both have probability 1/4) */
    assert_close(lo, 1, 1e-15);
    assert_close(hi, 4, 1e-15);
    /* the same seed gives the same interval */
    const double many[] = {0.91, 1.02, 1.10, 0.98, 1.05, 1.20, 0.95, 1.01, 1.07, 0.99};
    assert_int_equal(stats_geomean_ci(many, 10, 0.95, 2000, 7, &gm, &lo, &hi), 0);
    assert_int_equal(stats_geomean_ci(many, 10, 0.95, 2000, 7, &gm2, &lo2, &hi2), 0);
    assert_close(lo2, lo, 0);
    assert_close(hi2, hi, 0);
    assert_true(lo < gm && gm < hi);
    assert_close(gm, 1.0251076680113116, 1e-12); /* Python: exp(mean(log)) */
    /* about -+ 1.96 sd / sqrt(k) in the log domain, sd the population one (Python) */
    assert_close(log(hi / lo) / 2, 1.96 * 0.07461 / sqrt(10), 0.012);
    /* one point, or all equal: no spread */
    assert_int_equal(stats_geomean_ci(many, 1, 0.95, 100, 1, &gm, &lo, &hi), 0);
    assert_close(lo, 0.91, 1e-15);
    assert_close(hi, 0.91, 1e-15);
    const double bad[] = {1, 0, 2};
    assert_int_equal(stats_geomean_ci(bad, 3, 0.95, 100, 1, &gm, &lo, &hi), -1);
    assert_true(isnan(gm));
    assert_int_equal(stats_geomean_ci(r, 0, 0.95, 100, 1, &gm, &lo, &hi), -1);
    assert_int_equal(stats_geomean_ci(r, 2, 0.95, 0, 1, &gm, &lo, &hi), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_01_one_to_ten),
        cmocka_unit_test(test_02_single_value),
        cmocka_unit_test(test_03_two_values),
        cmocka_unit_test(test_04_all_equal),
        cmocka_unit_test(test_05_outlier),
        cmocka_unit_test(test_06_irregular_timings),
        cmocka_unit_test(test_07_ci_ranks_n100),
        cmocka_unit_test(test_08_uniform_grid_exact),
        cmocka_unit_test(test_09_uniform_random),
        cmocka_unit_test(test_10_normal_box_muller),
        cmocka_unit_test(test_11_input_unchanged),
        cmocka_unit_test(test_12_empty_fails),
        cmocka_unit_test(test_13_zero_mean_cv),
        cmocka_unit_test(test_14_large_offset_stddev),
        cmocka_unit_test(test_15_quantile_sorted),
        cmocka_unit_test(test_16_ci_tiny_n_is_min_max),
        cmocka_unit_test(test_17_ci_coverage),
        cmocka_unit_test(test_18_normal_cdf_and_quantile),
        cmocka_unit_test(test_19_null_counts_table),
        cmocka_unit_test(test_20_null_counts_match_enumeration),
        cmocka_unit_test(test_21_separated_samples_exact),
        cmocka_unit_test(test_22_all_equal_samples),
        cmocka_unit_test(test_23_r_example_with_ties),
        cmocka_unit_test(test_24_unequal_sizes_exact),
        cmocka_unit_test(test_25_large_samples_normal),
        cmocka_unit_test(test_26_smallest_attainable_p),
        cmocka_unit_test(test_27_mann_whitney_bad_input),
        cmocka_unit_test(test_28_type_one_error),
        cmocka_unit_test(test_29_ratio_ci_statpsych_example),
        cmocka_unit_test(test_30_ratio_ci_edges),
        cmocka_unit_test(test_31_ratio_ci_coverage),
        cmocka_unit_test(test_32_geomean_bootstrap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
