/* util/buildinfo.h — the provenance of this binary: the source revision it was
 * built from, whether the tree had uncommitted changes, the compiler and the
 * optimisation flags.  Recorded with every run. */
#ifndef CTXBENCH_UTIL_BUILDINFO_H
#define CTXBENCH_UTIL_BUILDINFO_H

const char *cb_source_revision(void); /* git commit id, or "unknown" */
int cb_source_dirty(void);            /* 1 dirty, 0 clean, -1 unknown */
const char *cb_compiler(void);        /* first line of `cc --version` */
const char *cb_cflags(void);          /* optimisation flags, e.g. "-O3 -g -march=native" */

#endif
