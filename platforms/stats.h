/* platforms/stats.h — robust statistics of a sample of repetition times, and
 * the comparison of two such samples.
 *
 * Quantiles use linear interpolation between order statistics (Hyndman & Fan
 * type 7, as R and numpy default).  The 95% confidence interval of the median is
 * distribution-free, from order statistics: ranks n/2 -+ 1.96 sqrt(n)/2
 * (normal approximation of the binomial), clamped to the sample.
 *
 * Comparing two samples A and B (`ctxbench compare`): the two-sided
 * Mann-Whitney U test, the exact null distribution of U, the smallest p a
 * design can reach, the Bonett-Price confidence interval of the ratio of
 * medians B/A, and a bootstrap interval of a geometric mean.  All are pure
 * functions of their inputs: no state, no printing, and no memory kept (the
 * scratch each one allocates is said beside it and freed before it returns). */
#ifndef CTXBENCH_PLATFORMS_STATS_H
#define CTXBENCH_PLATFORMS_STATS_H

#include <stdint.h>

typedef struct meas_stats {
    int n;
    double median, mean, stddev; /* stddev: sample (n-1) standard deviation; 0 when n < 2 */
    double mad;                  /* median absolute deviation (unscaled) */
    double min, max, p05, p95;
    double ci_lo, ci_hi;         /* 95% confidence interval of the median */
    double cv;                   /* stddev / mean; 0 when mean is 0 */
} meas_stats;

/* Computes every statistic of x[0..n).  x is not modified.  Returns 0, or -1
 * when n < 1 or memory runs out (out is then zeroed). */
int stats_compute(const double *x, int n, meas_stats *out);

/* The q-quantile (0 <= q <= 1) of an ascending sorted array, type 7. */
double stats_quantile_sorted(const double *sorted, int n, double q);

/* ---- comparing two samples ---- */

/* Phi(z), the standard normal distribution function (from erfc, so accurate
 * far into both tails).  NaN for NaN. */
double stats_norm_cdf(double z);

/* Phi^-1(p): the z with Phi(z) = p, to double precision (bisection on
 * stats_norm_cdf).  -INFINITY for p <= 0, +INFINITY for p >= 1, NaN for NaN. */
double stats_norm_quantile(double p);

/* Both sample sizes at most this: stats_mann_whitney gives the exact p when
 * the pooled sample has no ties (R's wilcox.test draws the line at 50 too). */
#define STATS_MW_EXACT_MAX 49

/* The two-sided Mann-Whitney U test of sample a against sample b. */
typedef struct stats_mw {
    double u;   /* U of b: the pairs (a_i, b_j) with b_j > a_i, ties counting 1/2;
                 * 0 .. n_a n_b, n_a n_b / 2 under the null hypothesis */
    double z;   /* (U - n_a n_b / 2 -+ 1/2) / sigma, sigma tie-corrected and the
                 * 1/2 a continuity correction toward 0; > 0 when b tends to be
                 * larger; 0 when sigma is 0 (every value equal).  Given even
                 * when p is exact. */
    double p;   /* two-sided p: exact (twice the smaller tail of the exact null
                 * distribution, at most 1) when n_a, n_b <= STATS_MW_EXACT_MAX and
                 * there are no ties, else 2 Phi(-|z|); 1 when sigma is 0 */
    int exact;  /* 1 when p is exact */
    int ties;   /* 1 when some value occurs more than once in the pooled sample */
} stats_mw;

/* Tests a[0..na) against b[0..nb) (unequal sizes are fine).  Ranks are
 * midranks of the pooled sample.  Allocates a pooled copy (na + nb doubles)
 * and, for the exact p, what stats_mw_null_counts allocates; frees both.
 * Returns 0, or -1 when a size is < 1, a pointer is NULL, a value is NaN, or
 * memory runs out (out is then zeroed). */
int stats_mann_whitney(const double *a, int na, const double *b, int nb, stats_mw *out);

/* The exact null distribution of U for samples of m and n distinct values:
 * counts[u], u = 0 .. m n, is how many of the C(m + n, m) equally likely
 * orderings give U = u (a recurrence on the largest value: it comes from one
 * sample or the other).  counts has m n + 1 entries; the counts are exact
 * integers while they stay below 2^53 (sums of positive terms beyond, within
 * a relative 1e-13).
 * Allocates a (min(m, n) + 1) x (m n + 1) table of doubles, freed before it
 * returns.  Returns 0, or -1 when m or n < 1, m n > 10^6, counts is NULL or
 * memory runs out. */
int stats_mw_null_counts(int m, int n, double *counts);

/* The smallest two-sided p stats_mann_whitney can return for samples of na
 * and nb values without ties, i.e. when every b exceeds every a: exactly
 * 2 / C(na + nb, na) (at most 1) in the exact range, else the normal
 * approximation's p at U = 0.  When it is not below alpha the test cannot
 * detect any change, however large.  NaN when a size is < 1. */
double stats_mw_min_p(int na, int nb);

/* The ratio of the medians of b and a with a confidence interval. */
typedef struct stats_ratio {
    double median_a, median_b; /* type-7 medians */
    double ratio;              /* median_b / median_a */
    double se_log;             /* standard error of log(ratio); NaN when a size is 1 */
    double lo, hi;             /* confidence interval of the ratio; NaN when a size is 1 */
} stats_ratio;

/* The ratio of medians b/a with a distribution-free confidence interval at
 * `level` (e.g. 0.95): Bonett & Price (2002; R's statpsych::ci.ratio.median2).
 * For each sample, with c = round(n/2 - sqrt(n)) (at least 1) and the order
 * statistics y(c) <= y(n-c+1), which cover the median with probability
 * 1 - 2 P(Binomial(n, 1/2) <= c - 1), the standard error of log(median) is
 * (log y(n-c+1) - log y(c)) / (2 z0), z0 = Phi^-1(1 - P(Binomial <= c - 1));
 * the interval is exp(log(ratio) -+ Phi^-1((1 + level)/2) sqrt(se_a^2 + se_b^2)).
 * It assumes few ties within a sample: when timer resolution makes y(c) and
 * y(n-c+1) equal, that sample's standard error is 0 and the interval narrows
 * to what the other sample allows (to the ratio itself when both are so), i.e.
 * the medians are known to the resolution of the clock.  Every value must be
 * > 0.  Allocates a sorted copy of the larger sample, freed before it
 * returns.  Returns 0, or -1 when a size is < 1, a pointer is NULL, a value is
 * not > 0 (or NaN), level is not in (0, 1), or memory runs out (out is then
 * filled with NaN). */
int stats_median_ratio_ci(const double *a, int na, const double *b, int nb, double level,
                          stats_ratio *out);

/* The geometric mean of ratios[0..k) (every one > 0) and a percentile
 * bootstrap confidence interval at `level`: `resamples` resamples of the k
 * ratios drawn with replacement by a splitmix64 generator started at seed (so
 * the interval is the same on every call), type-7 quantiles (1 -+ level)/2 of
 * their geometric means.  It measures how much the figure depends on which
 * points were measured, not the measurement noise within each.  Allocates
 * k + resamples doubles, freed before it returns.  Returns 0, or -1 when
 * k < 1, resamples < 1, a pointer is NULL, a ratio is not finite and > 0,
 * level is not in (0, 1), or memory runs out (outputs NaN). */
int stats_geomean_ci(const double *ratios, int k, double level, int resamples, uint64_t seed,
                     double *geomean, double *lo, double *hi);

#endif
