/* reports/doc.h — the report document: an ordered list of blocks
 * (headings, paragraphs, list items, quotes, tables, figures) that the
 * sections build and the renderers (reports/render.h) print.
 *
 * One document per experiment and platform is built from the store's JSON;
 * rdoc_merge then folds the documents of several platforms into one: tables
 * side by side, figures overlaid, text kept once when it is the same and
 * once per platform (with the platform's label) when it differs.
 *
 * Text may hold `code spans` in backquotes (run ids, revisions); renderers
 * turn them into their own markup and escape everything else.
 *
 * Memory: a document owns its blocks, tables and figures; allocation
 * failures latch `oom` and are reported by rdoc_check.
 * Never: no output formatting, no store access. */
#ifndef CTXBENCH_REPORTS_DOC_H
#define CTXBENCH_REPORTS_DOC_H

#include "reports/figure.h"
#include "reports/prov.h"
#include "reports/table.h"
#include "util/error.h"

typedef enum rdoc_kind { RDOC_HEADING, RDOC_TEXT, RDOC_ITEM, RDOC_QUOTE, RDOC_TABLE, RDOC_FIGURE } rdoc_kind;

typedef struct rdoc_block {
    rdoc_kind kind;
    int level;     /* HEADING: 1 the report, 2 an experiment, 3 and 4 below; TABLE: its title's */
    char *key;     /* what matches the block across platforms (the text when not given) */
    char *lead;    /* QUOTE: its bold lead; TEXT and ITEM: the platform's label when the
                    * platforms differ; NULL otherwise */
    char *text;
    rtab *table;   /* TABLE, owned */
    rfig *fig;     /* FIGURE, owned */
} rdoc_block;

typedef struct rdoc {
    rdoc_block *b;
    int n;
    rprov prov;    /* the platform and runs this document's numbers come from */
    int oom;
} rdoc;

/* A new empty document whose tables and figures get provenance p.  NULL when
 * out of memory.  Free with rdoc_free (NULL is a no-op). */
rdoc *rdoc_create(const rprov *p);
void rdoc_free(rdoc *d);

void rdoc_heading(rdoc *d, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void rdoc_text(rdoc *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A paragraph matched across platforms by key rather than by its text. */
void rdoc_keyed_text(rdoc *d, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* One item of a bulleted list (consecutive items make one list). */
void rdoc_item(rdoc *d, const char *key, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void rdoc_quote(rdoc *d, const char *lead, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Adds a table (taking ownership; NULL is ignored, marking oom) with its
 * title at heading level `level`; the table gets the document's provenance. */
void rdoc_table(rdoc *d, rtab *t, int level);

/* Adds a figure (taking ownership); the figure gets the document's
 * provenance; an empty figure (nothing to draw) is dropped. */
void rdoc_figure(rdoc *d, rfig *f);

/* Folds src (the same experiment on another platform) into dst, in order:
 * a table or figure with the id of one in dst goes beside it / over it; a
 * heading, paragraph or item matching one of dst's by key is dropped when
 * its text is the same and kept after it, labelled with its platform, when
 * it differs; a block dst lacks is inserted after the last matched one.
 * src is left empty.  Returns 0, or -1 when out of memory. */
int rdoc_merge(rdoc *dst, rdoc *src);

/* 0, or -1 with err when building the document (or any table or figure in
 * it) ran out of memory. */
int rdoc_check(const rdoc *d, cb_err *err);

#endif
