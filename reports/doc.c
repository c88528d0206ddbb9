/* reports/doc.c — the report document (see doc.h): adding blocks, and
 * folding the documents of several platforms into one.
 * Never: no output formatting, no store access. */
#include "reports/doc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

rdoc *rdoc_create(const rprov *p)
{
    rdoc *d = calloc(1, sizeof *d);
    if (d)
        d->prov = *p;
    return d;
}

static void rdoc_block_free(rdoc_block *b)
{
    free(b->key);
    free(b->lead);
    free(b->text);
    rtab_free(b->table);
    rfig_free(b->fig);
    memset(b, 0, sizeof *b);
}

void rdoc_free(rdoc *d)
{
    if (!d)
        return;
    for (int i = 0; i < d->n; i++)
        rdoc_block_free(&d->b[i]);
    free(d->b);
    free(d);
}

/* Inserts a copy of *b at position at (0..n); returns the slot or NULL (oom). */
static rdoc_block *rdoc_insert(rdoc *d, int at, const rdoc_block *b)
{
    rdoc_block *blocks = realloc(d->b, (size_t)(d->n + 1) * sizeof *blocks);
    if (!blocks) {
        d->oom = 1;
        return NULL;
    }
    d->b = blocks;
    memmove(&blocks[at + 1], &blocks[at], (size_t)(d->n - at) * sizeof *blocks);
    blocks[at] = *b;
    d->n++;
    return &blocks[at];
}

/* Appends a text-like block built from a format; frees what it cannot keep. */
static void rdoc_vadd(rdoc *d, rdoc_kind kind, int level, const char *key, const char *lead,
                      const char *fmt, va_list ap)
{
    rdoc_block b = {.kind = kind, .level = level};
    if (d->oom)
        return;
    if (vasprintf(&b.text, fmt, ap) < 0) {
        d->oom = 1;
        return;
    }
    b.key = strdup(key ? key : b.text);
    b.lead = lead ? strdup(lead) : NULL;
    if (!b.key || (lead && !b.lead) || !rdoc_insert(d, d->n, &b)) {
        d->oom = 1;
        rdoc_block_free(&b);
    }
}

void rdoc_heading(rdoc *d, int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rdoc_vadd(d, RDOC_HEADING, level, NULL, NULL, fmt, ap);
    va_end(ap);
}

void rdoc_text(rdoc *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rdoc_vadd(d, RDOC_TEXT, 0, NULL, NULL, fmt, ap);
    va_end(ap);
}

void rdoc_keyed_text(rdoc *d, const char *key, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rdoc_vadd(d, RDOC_TEXT, 0, key, NULL, fmt, ap);
    va_end(ap);
}

void rdoc_item(rdoc *d, const char *key, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rdoc_vadd(d, RDOC_ITEM, 0, key, NULL, fmt, ap);
    va_end(ap);
}

void rdoc_quote(rdoc *d, const char *lead, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rdoc_vadd(d, RDOC_QUOTE, 0, NULL, lead, fmt, ap);
    va_end(ap);
}

void rdoc_table(rdoc *d, rtab *t, int level)
{
    if (!t || d->oom) {
        d->oom = 1;
        rtab_free(t);
        return;
    }
    rtab_add_prov(t, &d->prov);
    rdoc_block b = {.kind = RDOC_TABLE, .level = level, .table = t, .key = strdup(t->id)};
    if (!b.key || !rdoc_insert(d, d->n, &b)) {
        d->oom = 1;
        rdoc_block_free(&b);
    }
}

void rdoc_figure(rdoc *d, rfig *f)
{
    if (!f || d->oom) {
        d->oom = 1;
        rfig_free(f);
        return;
    }
    if (rfig_is_empty(f) && !f->oom) {
        rfig_free(f);
        return;
    }
    rfig_add_prov(f, &d->prov);
    rdoc_block b = {.kind = RDOC_FIGURE, .fig = f, .key = strdup(f->id)};
    if (!b.key || !rdoc_insert(d, d->n, &b)) {
        d->oom = 1;
        rdoc_block_free(&b);
    }
}

/* ---- merging platforms ------------------------------------------------------------- */

/* The block of dst matching b (same kind and key): searched after `from`
 * first, then from the start; -1 when none. */
static int rdoc_find(const rdoc *dst, const rdoc_block *b, int from)
{
    for (int pass = 0; pass < 2; pass++)
        for (int j = pass ? 0 : from + 1; j < dst->n; j++)
            if (dst->b[j].kind == b->kind && strcmp(dst->b[j].key, b->key) == 0)
                return j;
    return -1;
}

/* Moves *b into dst at position at (b is emptied); returns at, or -1 (oom). */
static int rdoc_move(rdoc *dst, int at, rdoc_block *b)
{
    if (!rdoc_insert(dst, at, b))
        return -1;
    memset(b, 0, sizeof *b);
    return at;
}

/* Labels a text block with a platform (once). */
static int rdoc_label(rdoc_block *b, const char *platform)
{
    if (b->kind == RDOC_QUOTE || b->lead)
        return 0;
    return (b->lead = strdup(platform)) ? 0 : -1;
}

/* A text-like block of src that matches dst's block j: dropped when the
 * same, else labelled and placed after j's platform variants.  Returns the
 * index it ends at, or -1 (oom). */
static int rdoc_merge_text(rdoc *dst, int j, rdoc_block *b, const rprov *src_prov)
{
    if (strcmp(dst->b[j].text, b->text) == 0)
        return j;
    if (rdoc_label(&dst->b[j], dst->prov.label) != 0 || rdoc_label(b, src_prov->label) != 0)
        return -1;
    int at = j + 1;
    while (at < dst->n && dst->b[at].kind == b->kind && strcmp(dst->b[at].key, b->key) == 0)
        at++;
    return rdoc_move(dst, at, b);
}

/* A table of src with the id of dst's table j: beside it, or after it
 * (renamed) when their rows are not named alike. */
static int rdoc_merge_table(rdoc *dst, int j, rdoc_block *b, const rprov *src_prov)
{
    int rc = rtab_side_by_side(dst->b[j].table, b->table);
    if (rc <= 0)
        return rc < 0 ? -1 : j;
    char *id = NULL;
    if (asprintf(&id, "%s-%s", b->table->id, src_prov->label) < 0)
        return -1;
    free(b->table->id);
    b->table->id = id;
    return rdoc_move(dst, j + 1, b);
}

int rdoc_merge(rdoc *dst, rdoc *src)
{
    int cursor = -1;
    for (int i = 0; i < src->n && !dst->oom; i++) {
        rdoc_block *b = &src->b[i];
        int j = rdoc_find(dst, b, cursor);
        if (j < 0)
            cursor = rdoc_move(dst, cursor + 1, b);
        else if (b->kind == RDOC_TABLE)
            cursor = rdoc_merge_table(dst, j, b, &src->prov);
        else if (b->kind == RDOC_FIGURE)
            cursor = rfig_overlay(dst->b[j].fig, b->fig) == 0 ? j : -1;
        else
            cursor = rdoc_merge_text(dst, j, b, &src->prov);
        if (cursor < 0)
            dst->oom = 1;
    }
    for (int i = 0; i < src->n; i++)
        rdoc_block_free(&src->b[i]);
    src->n = 0;
    return dst->oom ? -1 : 0;
}

int rdoc_check(const rdoc *d, cb_err *err)
{
    int oom = d->oom;
    for (int i = 0; i < d->n; i++)
        oom |= (d->b[i].table && d->b[i].table->oom) || (d->b[i].fig && d->b[i].fig->oom);
    return oom ? cb_fail(err, "report: out of memory building the report") : 0;
}
