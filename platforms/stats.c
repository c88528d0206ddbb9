/* platforms/stats.c — robust statistics of a sample of repetition times
 * (see stats.h for the definitions: type-7 quantiles, unscaled MAD, a
 * distribution-free 95% confidence interval of the median), and the
 * comparison of two samples: Mann-Whitney U, its exact null distribution,
 * the Bonett-Price interval of a ratio of medians, a bootstrapped geometric
 * mean.
 *
 * Never: modify the caller's sample (we sort a private copy), print, or keep
 * state between calls. */
#include "platforms/stats.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* z of a two-sided 95% interval under the normal approximation. */
#define STATS_Z95 1.96

/* Ascending order with NaNs last, so the comparison is a total order even on
 * bad input (qsort with an inconsistent comparator is undefined). */
static int stats_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    int xn = isnan(x), yn = isnan(y);
    if (xn || yn)
        return xn - yn;
    return (x > y) - (x < y);
}

double stats_quantile_sorted(const double *sorted, int n, double q)
{
    if (!sorted || n < 1)
        return NAN;
    if (!(q > 0))
        q = 0; /* also maps a NaN q to the minimum */
    if (q > 1)
        q = 1;
    double h = (n - 1) * q;
    int lo = (int)floor(h);
    if (lo >= n - 1)
        return sorted[n - 1];
    return sorted[lo] + (h - lo) * (sorted[lo + 1] - sorted[lo]);
}

/* Mean and sample standard deviation in two passes (stable for timings that
 * share a large common offset). */
static void stats_moments(const double *x, int n, double *mean, double *stddev)
{
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += x[i];
    double m = sum / n;
    double ss = 0;
    for (int i = 0; i < n; i++)
        ss += (x[i] - m) * (x[i] - m);
    *mean = m;
    *stddev = n > 1 ? sqrt(ss / (n - 1)) : 0;
}

/* 95% CI of the median from order statistics: 1-based ranks
 * n/2 -+ 1.96 sqrt(n)/2, rounded outward and clamped to [1, n]. */
static void stats_median_ci(const double *sorted, int n, double *lo, double *hi)
{
    double half = STATS_Z95 * sqrt((double)n) / 2;
    /* the epsilon keeps an exact integer rank from being widened by rounding noise */
    double rlo = floor(n / 2.0 - half + 1e-9);
    double rhi = ceil(n / 2.0 + half - 1e-9);
    if (rlo < 1)
        rlo = 1;
    if (rhi > n)
        rhi = n;
    *lo = sorted[(int)rlo - 1];
    *hi = sorted[(int)rhi - 1];
}

/* Unscaled median absolute deviation; overwrites sorted (it is our copy). */
static double stats_mad_inplace(double *sorted, int n, double median)
{
    for (int i = 0; i < n; i++)
        sorted[i] = fabs(sorted[i] - median);
    qsort(sorted, (size_t)n, sizeof *sorted, stats_cmp);
    return stats_quantile_sorted(sorted, n, 0.5);
}

int stats_compute(const double *x, int n, meas_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!x || n < 1)
        return -1;
    double *s = malloc((size_t)n * sizeof *s);
    if (!s)
        return -1;
    memcpy(s, x, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, stats_cmp);

    out->n = n;
    out->min = s[0];
    out->max = s[n - 1];
    out->median = stats_quantile_sorted(s, n, 0.5);
    out->p05 = stats_quantile_sorted(s, n, 0.05);
    out->p95 = stats_quantile_sorted(s, n, 0.95);
    stats_median_ci(s, n, &out->ci_lo, &out->ci_hi);
    stats_moments(s, n, &out->mean, &out->stddev);
    out->cv = out->mean != 0 ? out->stddev / out->mean : 0;
    out->mad = stats_mad_inplace(s, n, out->median); /* last: destroys the sorted copy */
    free(s);
    return 0;
}

/* ---- comparing two samples ------------------------------------------------------ */

double stats_norm_cdf(double z)
{
    return 0.5 * erfc(-z / M_SQRT2);
}

double stats_norm_quantile(double p)
{
    if (isnan(p))
        return NAN;
    if (p <= 0)
        return -INFINITY;
    if (p >= 1)
        return INFINITY;
    /* Phi(-38.5) is below the smallest double, Phi(38.5) rounds to 1: the
     * root is inside; halve until the bracket is 1e-15 wide (relative beyond 1) */
    double lo = -38.5, hi = 38.5;
    while (hi - lo > 1e-15 * fmax(1.0, fabs(lo + hi) / 2)) {
        double mid = (lo + hi) / 2;
        if (mid == lo || mid == hi)
            break;
        if (stats_norm_cdf(mid) < p)
            lo = mid;
        else
            hi = mid;
    }
    return (lo + hi) / 2;
}

/* One value of the pooled sample and the sample it came from. */
typedef struct stats_tagged {
    double v;
    bool from_b;
} stats_tagged;

static int stats_tagged_cmp(const void *x, const void *y)
{
    double a = ((const stats_tagged *)x)->v, b = ((const stats_tagged *)y)->v;
    return (a > b) - (a < b);
}

/* Ranks of the pooled sample (sorted, no NaN): the sum of the midranks of b's
 * values and the tie term sum(t^3 - t) over groups of t equal values. */
static void stats_rank_sums(const stats_tagged *pool, int n, double *rank_sum_b, double *tie_term)
{
    *rank_sum_b = 0;
    *tie_term = 0;
    for (int i = 0; i < n;) {
        int j = i;
        while (j + 1 < n && pool[j + 1].v == pool[i].v)
            j++;
        double midrank = (i + j) / 2.0 + 1, t = j - i + 1;
        for (int k = i; k <= j; k++)
            if (pool[k].from_b)
                *rank_sum_b += midrank;
        *tie_term += t * t * t - t;
        i = j + 1;
    }
}

int stats_mw_null_counts(int m, int n, double *counts)
{
    if (m < 1 || n < 1 || (long long)m * n > 10000 || !counts)
        return -1;
    int small = m < n ? m : n, big = m < n ? n : m;
    size_t len = (size_t)m * n + 1;
    /* f[i][u]: orderings of i values of the small sample and j of the big one
     * with U = u (pairs small > big), for the j reached so far.  With j = 0
     * only U = 0 is possible.  Adding the j-th big value: the largest of the
     * i + j is either big (U unchanged: f(i, j-1, u)) or small (it beats all
     * j big ones: f(i-1, j, u-j)), so row i gains row i-1 (already at j)
     * shifted by j. */
    double *f = calloc((size_t)(small + 1) * len, sizeof *f);
    if (!f)
        return -1;
    for (int i = 0; i <= small; i++)
        f[(size_t)i * len] = 1;
    for (int j = 1; j <= big; j++)
        for (int i = 1; i <= small; i++) {
            double *row = f + (size_t)i * len;
            const double *below = f + (size_t)(i - 1) * len;
            for (int u = j; u <= i * j; u++)
                row[u] += below[u - j];
        }
    memcpy(counts, f + (size_t)small * len, len * sizeof *counts);
    free(f);
    return 0;
}

/* Two-sided exact p of an integer U for sizes na, nb: twice the smaller tail
 * of the null distribution, at most 1.  NaN when memory runs out. */
static double stats_mw_exact_p(int na, int nb, double u)
{
    size_t len = (size_t)na * nb + 1;
    double *counts = malloc(len * sizeof *counts);
    if (!counts || stats_mw_null_counts(na, nb, counts) != 0) {
        free(counts);
        return NAN;
    }
    double total = 0, below = 0, above = 0;
    for (size_t k = 0; k < len; k++) {
        total += counts[k];
        below += (double)k <= u ? counts[k] : 0;
        above += (double)k >= u ? counts[k] : 0;
    }
    free(counts);
    return fmin(1.0, 2 * fmin(below, above) / total);
}

/* The normal approximation of U's null distribution: z with the continuity
 * correction toward the mean, and the two-sided p (1 when sigma is 0). */
static void stats_mw_normal(int na, int nb, double u, double tie_term, double *z, double *p)
{
    double n = (double)na + nb, mean = (double)na * nb / 2;
    double var = (double)na * nb / 12 * ((n + 1) - tie_term / (n * (n - 1)));
    double d = u - mean;
    if (!(var > 0)) {
        *z = 0;
        *p = 1;
        return;
    }
    d -= d > 0 ? 0.5 : d < 0 ? -0.5 : 0;
    *z = d / sqrt(var);
    *p = fmin(1.0, 2 * stats_norm_cdf(-fabs(*z)));
}

/* Copies a and b into pool (na + nb entries), tagged; -1 on a NaN. */
static int stats_pool(const double *a, int na, const double *b, int nb, stats_tagged *pool)
{
    for (int i = 0; i < na + nb; i++) {
        pool[i] = i < na ? (stats_tagged){a[i], false} : (stats_tagged){b[i - na], true};
        if (isnan(pool[i].v))
            return -1;
    }
    return 0;
}

int stats_mann_whitney(const double *a, int na, const double *b, int nb, stats_mw *out)
{
    memset(out, 0, sizeof *out);
    if (!a || !b || na < 1 || nb < 1)
        return -1;
    int n = na + nb;
    stats_tagged *pool = malloc((size_t)n * sizeof *pool);
    if (!pool || stats_pool(a, na, b, nb, pool) != 0) {
        free(pool);
        return -1;
    }
    qsort(pool, (size_t)n, sizeof *pool, stats_tagged_cmp);
    double rank_sum_b, tie_term;
    stats_rank_sums(pool, n, &rank_sum_b, &tie_term);
    free(pool);

    out->u = rank_sum_b - (double)nb * (nb + 1) / 2;
    out->ties = tie_term > 0;
    stats_mw_normal(na, nb, out->u, tie_term, &out->z, &out->p);
    if (!out->ties && na <= STATS_MW_EXACT_MAX && nb <= STATS_MW_EXACT_MAX) {
        double p = stats_mw_exact_p(na, nb, out->u);
        if (isnan(p)) {
            memset(out, 0, sizeof *out);
            return -1;
        }
        out->p = p;
        out->exact = 1;
    }
    return 0;
}

double stats_mw_min_p(int na, int nb)
{
    if (na < 1 || nb < 1)
        return NAN;
    if (na <= STATS_MW_EXACT_MAX && nb <= STATS_MW_EXACT_MAX) {
        int k = na < nb ? na : nb, n = na + nb;
        double ways = 1; /* C(n, k), built as C(n-k+1, 1), C(n-k+2, 2), ... */
        for (int i = 1; i <= k; i++)
            ways = ways * (n - k + i) / i;
        return fmin(1.0, 2 / ways);
    }
    double z, p;
    stats_mw_normal(na, nb, 0, 0, &z, &p);
    return p;
}

/* P(Binomial(n, 1/2) <= k), summing the terms from k down while they matter
 * (k < n/2 here, so they shrink). */
static double stats_binom_half_cdf(int k, int n)
{
    if (k < 0)
        return 0;
    if (k >= n)
        return 1;
    double term = exp(lgamma(n + 1.0) - lgamma(k + 1.0) - lgamma(n - k + 1.0) - n * M_LN2);
    double sum = 0;
    for (int i = k; i >= 0 && term > sum * 1e-17; i--) {
        sum += term;
        term *= (double)i / (n - i + 1);
    }
    return sum;
}

/* The median of x[0..n) and the Bonett-Price standard error of its log
 * (NaN when n is 1), sorting x into buf.  -1 when a value is not > 0. */
static int stats_log_median_se(const double *x, int n, double *buf, double *median, double *se)
{
    memcpy(buf, x, (size_t)n * sizeof *buf);
    qsort(buf, (size_t)n, sizeof *buf, stats_cmp); /* NaNs last */
    if (!(buf[0] > 0) || isnan(buf[n - 1]))
        return -1;
    *median = stats_quantile_sorted(buf, n, 0.5);
    *se = NAN;
    if (n < 2)
        return 0;
    long c = lround(n / 2.0 - sqrt((double)n));
    if (c < 1)
        c = 1;
    double z0 = -stats_norm_quantile(stats_binom_half_cdf((int)c - 1, n));
    *se = (log(buf[n - c]) - log(buf[c - 1])) / (2 * z0);
    return 0;
}

static void stats_ratio_nan(stats_ratio *out)
{
    *out = (stats_ratio){NAN, NAN, NAN, NAN, NAN, NAN};
}

int stats_median_ratio_ci(const double *a, int na, const double *b, int nb, double level,
                          stats_ratio *out)
{
    stats_ratio_nan(out);
    if (!a || !b || na < 1 || nb < 1 || !(level > 0 && level < 1))
        return -1;
    double *buf = malloc((size_t)(na > nb ? na : nb) * sizeof *buf);
    double se_a, se_b;
    int rc = buf ? 0 : -1;
    if (rc == 0)
        rc = stats_log_median_se(a, na, buf, &out->median_a, &se_a);
    if (rc == 0)
        rc = stats_log_median_se(b, nb, buf, &out->median_b, &se_b);
    free(buf);
    if (rc != 0) {
        stats_ratio_nan(out);
        return -1;
    }
    double z = stats_norm_quantile((1 + level) / 2);
    out->ratio = out->median_b / out->median_a;
    out->se_log = sqrt(se_a * se_a + se_b * se_b); /* NaN when a size is 1 */
    out->lo = out->ratio * exp(-z * out->se_log);
    out->hi = out->ratio * exp(z * out->se_log);
    return 0;
}

/* splitmix64 (Steele, Lea & Flood 2014): a seeded stream for the bootstrap. */
static uint64_t stats_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* The geometric mean of one bootstrap resample of the k logs. */
static double stats_resampled_geomean(const double *logs, int k, uint64_t *state)
{
    double sum = 0;
    for (int i = 0; i < k; i++) {
        /* 53 random bits scaled to [0, k): uniform up to a bias of k / 2^53 */
        int pick = (int)((double)(stats_splitmix64(state) >> 11) * k / 9007199254740992.0);
        sum += logs[pick];
    }
    return exp(sum / k);
}

int stats_geomean_ci(const double *ratios, int k, double level, int resamples, uint64_t seed,
                     double *geomean, double *lo, double *hi)
{
    *geomean = *lo = *hi = NAN;
    if (!ratios || k < 1 || resamples < 1 || !(level > 0 && level < 1))
        return -1;
    double *logs = malloc((size_t)k * sizeof *logs);
    double *means = malloc((size_t)resamples * sizeof *means);
    int rc = logs && means ? 0 : -1;
    double sum = 0;
    for (int i = 0; rc == 0 && i < k; i++) {
        if (!(ratios[i] > 0) || isinf(ratios[i]))
            rc = -1;
        else
            sum += logs[i] = log(ratios[i]);
    }
    if (rc == 0) {
        uint64_t state = seed;
        for (int r = 0; r < resamples; r++)
            means[r] = stats_resampled_geomean(logs, k, &state);
        qsort(means, (size_t)resamples, sizeof *means, stats_cmp);
        *geomean = exp(sum / k);
        *lo = stats_quantile_sorted(means, resamples, (1 - level) / 2);
        *hi = stats_quantile_sorted(means, resamples, (1 + level) / 2);
    }
    free(logs);
    free(means);
    return rc;
}
