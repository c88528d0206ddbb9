/* platforms/stats.h — robust statistics of a sample of repetition times.
 *
 * Quantiles use linear interpolation between order statistics (Hyndman & Fan
 * type 7, as R and numpy default).  The 95% confidence interval of the median is
 * distribution-free, from order statistics: ranks n/2 -+ 1.96 sqrt(n)/2
 * (normal approximation of the binomial), clamped to the sample. */
#ifndef CTXBENCH_PLATFORMS_STATS_H
#define CTXBENCH_PLATFORMS_STATS_H

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

#endif
