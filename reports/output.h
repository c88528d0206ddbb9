/* reports/output.h — the report's output folder, written as a whole.
 *
 * The report is first rendered into memory: every file (Markdown, LaTeX,
 * CSV, HTML, figure data and scripts) with its path relative to the output
 * folder, and the figure scripts to run.  rout_commit then:
 *   - does nothing when the folder holds a report with the same digest (the
 *     SHA-256 of every rendered file and of this build's revision) and every
 *     file of it is still there (so `make report` is free when the database
 *     has not changed);
 *   - else builds the new report in DIR.new beside it, runs gnuplot on each
 *     figure script there, and swaps it in for DIR in two renames, so that
 *     DIR is never half-written.  When a figure fails, DIR is left as it was
 *     and the attempt is kept as DIR.failed for inspection.
 * A folder is only ever replaced or removed when it holds the marker file
 * .ctxbench-report (or is empty): a user's folder given by mistake is refused.
 *
 * Never: no store access, no shell. */
#ifndef CTXBENCH_REPORTS_OUTPUT_H
#define CTXBENCH_REPORTS_OUTPUT_H

#include <stdio.h>

#include "util/error.h"

typedef struct rout rout;

/* A new empty output set, NULL when out of memory; free with rout_free
 * (NULL is a no-op). */
rout *rout_create(void);
void rout_free(rout *o);

/* Starts a file at a relative path; returns the stream to write it to
 * (owned by the set; finish it with rout_end before starting another), or
 * NULL when out of memory. */
FILE *rout_begin(rout *o, const char *path);

/* Finishes the file begun last.  Returns 0, or -1 when out of memory (the
 * set remembers it: rout_commit then fails). */
int rout_end(rout *o);

/* Registers a gnuplot script (already added with rout_begin/rout_end) and
 * the files it writes beside itself (names relative to the script's folder,
 * NULL-terminated). */
void rout_script(rout *o, const char *path, const char *const *products);

/* The number of files and of scripts in the set. */
int rout_n_files(const rout *o);
int rout_n_scripts(const rout *o);

/* Writes the set to dir as described above (force: even when up to date).
 * Sets *up_to_date to 1 when nothing had to be done.  Returns 0, or -1 with
 * err naming the folder or file (dir is then unchanged). */
int rout_commit(rout *o, const char *dir, int force, int *up_to_date, cb_err *err);

#endif
