/* reports/gnuplot.h — figures through gnuplot: the data file and the script
 * of a figure (reports/figure.h), written into the report's output folder so
 * that users can restyle and redraw them, and the run of gnuplot that turns
 * the script into PDF (pdfcairo, for papers), SVG (for the HTML page) and
 * PNG (pngcairo, for a quick look).
 *
 * Styles: a colour per series label (the same operator or model keeps its
 * colour when several platforms overlay), a dash type and point type per
 * platform (source).
 *
 * Never: no shell (gnuplot is started with posix_spawnp), no store access. */
#ifndef CTXBENCH_REPORTS_GNUPLOT_H
#define CTXBENCH_REPORTS_GNUPLOT_H

#include <stdio.h>

#include "reports/figure.h"
#include "util/error.h"

/* Writes ID.dat: one block per series (x, y, CI low, CI high), or for a
 * stacked figure one block per bar group (bar label, then one column per
 * component).  Blocks are separated by two blank lines (gnuplot's `index`). */
void rgp_data(const rfig *f, FILE *out);

/* Writes ID.gp, which reads ID.dat in its own folder and writes ID.pdf,
 * ID.svg and ID.png there. */
void rgp_script(const rfig *f, FILE *out);

/* Runs `gnuplot SCRIPT` with dir as its working folder (the program is
 * $CTXBENCH_GNUPLOT when set, else gnuplot from PATH), its standard error
 * kept in SCRIPT.log until it succeeds.  Returns 0, or -1 with err naming
 * the script and giving gnuplot's first lines of complaint, or saying that
 * gnuplot is not installed. */
int rgp_run(const char *dir, const char *script, cb_err *err);

#endif
