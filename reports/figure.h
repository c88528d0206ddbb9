/* reports/figure.h — the figure model every plot of the report is written
 * from (reports/gnuplot.c turns it into a data file and a gnuplot script).
 *
 * Three kinds:
 *   RFIG_LINES    series of (x, y) points with the stored 95% CI as error
 *                 bars (lo, hi), vertical marks (crossovers) and an optional
 *                 horizontal reference line (a speedup of 1);
 *   RFIG_ROOFLINE series of (arithmetic intensity, GFLOP/s) points under the
 *                 platform's measured ceilings (bandwidth x intensity, peak);
 *   RFIG_STACKED  bars (grouped, e.g. one group per model, one bar per
 *                 context), each stacked from the series (components): point
 *                 x is the bar's index, y the component's height.
 * Every series, mark and ceiling names its source: the index of the
 * provenance (platform) it was measured on, so that figures of several
 * platforms overlay with one line style per platform.
 *
 * Memory: a figure owns everything in it; allocation failures latch `oom`
 * (reported by rdoc_check).  Never: no file or process I/O, no store access. */
#ifndef CTXBENCH_REPORTS_FIGURE_H
#define CTXBENCH_REPORTS_FIGURE_H

#include "reports/prov.h"

typedef enum rfig_kind { RFIG_LINES, RFIG_ROOFLINE, RFIG_STACKED } rfig_kind;

typedef struct rfig_point {
    double x, y;
    double lo, hi; /* the interval of y (stored CI), NAN when none */
} rfig_point;

typedef struct rfig_series {
    char *label;
    int source;    /* index into prov */
    rfig_point *p;
    int n, cap;
} rfig_series;

typedef struct rfig_mark {
    double x;
    char *label;
    int source;
} rfig_mark;

typedef struct rfig_ceiling {
    double gbps, gflops; /* measured triad bandwidth and FMA peak */
    int threads;
    int source;
} rfig_ceiling;

typedef struct rfig_bar {
    char *group, *label;
} rfig_bar;

typedef struct rfig {
    rfig_kind kind;
    char *id, *title, *xlabel, *ylabel;
    int logx, logy;
    double ref_y;  /* a horizontal reference line, NAN for none */
    char *note;    /* how to read it (a caption sentence); may be NULL */
    rfig_series *series;
    int n_series;
    rfig_mark *marks;
    int n_marks;
    rfig_ceiling *ceilings;
    int n_ceilings;
    rfig_bar *bars;
    int n_bars;
    rprov *prov;
    int n_prov;
    int oom;
} rfig;

/* A new empty figure; id is made file-name safe.  Log axes are on for
 * RFIG_ROOFLINE, off otherwise (set logx/logy directly).  NULL when out of
 * memory.  Free with rfig_free (NULL is a no-op). */
rfig *rfig_create(rfig_kind kind, const char *id, const char *xlabel, const char *ylabel,
                  const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void rfig_free(rfig *f);

/* Sets the caption note (replacing any). */
void rfig_note(rfig *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The series labelled label, added (from source 0) when new.  -1 when out of memory. */
int rfig_add_series(rfig *f, const char *label);

/* Adds a point; a point with x or y not finite, or not positive on a log
 * axis, is left out (it cannot be drawn), and lo/hi that are not finite
 * become NAN. */
void rfig_add_point(rfig *f, int series, double x, double y, double lo, double hi);

/* A vertical mark at x (a crossover) with its label. */
void rfig_add_mark(rfig *f, double x, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The roofline ceilings of the figure's platform at a thread count. */
void rfig_add_ceiling(rfig *f, double gbps, double gflops, int threads);

/* A new bar of a stacked figure; returns its index (the x of its points), -1 on oom. */
int rfig_add_bar(rfig *f, const char *group, const char *label);

/* Appends a copy of p to the figure's provenance. */
void rfig_add_prov(rfig *f, const rprov *p);

/* 1 when the figure has nothing to draw (no point in any series). */
int rfig_is_empty(const rfig *f);

/* Overlays src onto dst: src's series, marks and ceilings come with their
 * sources renumbered after dst's, a series of dst with the same label from
 * another platform becomes a separate series (drawn in the same colour,
 * another line style); stacked bars are appended with the platform's label
 * after their group.  Returns 0, or -1 when out of memory (dst->oom set). */
int rfig_overlay(rfig *dst, const rfig *src);

#endif
