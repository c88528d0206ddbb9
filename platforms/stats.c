/* platforms/stats.c — robust statistics of a sample of repetition times
 * (see stats.h for the definitions: type-7 quantiles, unscaled MAD, a
 * distribution-free 95% confidence interval of the median).
 *
 * Never: modify the caller's sample (we sort a private copy), print, or keep
 * state between calls. */
#include "platforms/stats.h"

#include <math.h>
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
