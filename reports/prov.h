/* reports/prov.h — the provenance every table and figure of the report
 * carries: the platform it was measured on, the source revision, the scale
 * and the runs its numbers come from, read from one result group of the
 * store (store_latest_runs_json's shape).
 * Never: no store access, no formatting for a particular output. */
#ifndef CTXBENCH_REPORTS_PROV_H
#define CTXBENCH_REPORTS_PROV_H

#include <stddef.h>

#include <jansson.h>

typedef struct rprov {
    char label[48];        /* short name in column groups and legends: the fingerprint's
                            * first 8 hex digits, plus "/" and the run's when two groups
                            * of one experiment share a platform */
    char fingerprint[72];  /* the platform's full fingerprint */
    char machine[224];     /* "AuthenticAMD AMD EPYC, 2 cores / 2 PUs" */
    char revision[48];     /* 12 hex digits of the source revision, "+dirty" for a dirty tree */
    char scale[16];        /* "quick" or "full" */
    char runs[1536];       /* the run UUIDs, newest first, separated by ", " */
    char runs_short[320];  /* their first 8 characters (what `ctxbench db show` accepts) */
} rprov;

/* Fills p from a result group (an object with platform, revision, dirty,
 * scale and runs [{uuid}]).  A list of runs too long for the fields ends in
 * "and N more".  Cannot fail: absent members read as empty. */
void rprov_from_group(const json_t *group, rprov *p);

/* Writes one line of plain text: "platform L (machine), revision R, scale S,
 * runs U1, U2" (full is 1: full UUIDs; 0: their short form).  Truncated to cap. */
void rprov_line(const rprov *p, int full, char *buf, size_t cap);

#endif
