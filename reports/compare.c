/* reports/compare.c — `ctxbench compare A B` (see compare.h for what a
 * selector is, what a point is and the statistics).
 *
 * The steps: list every run (store_runs_json); resolve each selector to a
 * kind, a value and the runs it stands for; load those runs with their raw
 * samples (store_run_results_json); key every measurement by its point and
 * match B's keys against A's; test each point in both; summarise.  Then the
 * renderers: Markdown with aligned columns, CSV and JSON.
 *
 * Never: SQL (only db/store.h), measuring, printing anywhere but the FILE it
 * is handed, or exiting. */
#include "reports/compare.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "reports/format.h"
#include "reports/render.h"

/* The bootstrap's seed ("ctxbench" in ASCII): fixed, so output is repeatable. */
#define COMPARE_SEED 0x63747862656e6368ull

/* Per kind: its name, the key of its value in run objects, the shortest prefix. */
static const char *const compare_kind_name[] = {"run", "revision", "platform"};
static const char *const compare_kind_key[] = {"uuid", "revision", "fingerprint"};
static const int compare_kind_min_digits[] = {8, 7, 8};
#define COMPARE_KINDS 3

/* ---- selectors ------------------------------------------------------------------ */

/* A parsed selector: the prefix and which kinds it may be. */
typedef struct compare_sel {
    const char *prefix;
    int may_be[COMPARE_KINDS];
} compare_sel;

static int compare_starts_with(const char *s, const char *prefix)
{
    return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

/* Splits an optional "run:", "rev:", "revision:" or "platform:" off sel and
 * decides which kinds the rest may be (hex digits, '-' in a UUID only, long
 * enough).  Returns 0, or -1 with err naming the side. */
static int compare_parse(char side, const char *sel, compare_sel *out, cb_err *err)
{
    static const struct { const char *tag; int kind; } tags[] = {
        {"run:", COMPARE_RUN}, {"rev:", COMPARE_REVISION},
        {"revision:", COMPARE_REVISION}, {"platform:", COMPARE_PLATFORM}};
    int tagged = -1, digits = 0, dashes = 0, any = 0;
    out->prefix = sel;
    for (size_t i = 0; i < sizeof tags / sizeof tags[0]; i++)
        if (compare_starts_with(sel, tags[i].tag)) {
            tagged = tags[i].kind;
            out->prefix = sel + strlen(tags[i].tag);
        }
    for (const char *c = out->prefix; *c; c++) {
        if (strchr("0123456789abcdefABCDEF", *c))
            digits++;
        else if (*c == '-')
            dashes++;
        else
            return cb_fail(err, "%c: \"%s\": not a run UUID, revision or platform fingerprint "
                           "(hex digits expected)", side, sel);
    }
    for (int k = 0; k < COMPARE_KINDS; k++) {
        out->may_be[k] = (tagged < 0 || tagged == k) && digits >= compare_kind_min_digits[k] &&
                         (dashes == 0 || k == COMPARE_RUN);
        any |= out->may_be[k];
    }
    if (!any)
        return cb_fail(err, "%c: \"%s\": too short or malformed (a run UUID prefix needs at least "
                       "8 hex digits, a revision 7, a platform fingerprint 8)", side, sel);
    return 0;
}

static int compare_has_string(const json_t *arr, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
        if (strcmp(json_string_value(v), s) == 0)
            return 1;
    return 0;
}

/* The distinct values of key that start with prefix among runs, in the order
 * met, as a JSON array of strings (NULL when memory runs out). */
static json_t *compare_values_with_prefix(const json_t *runs, const char *key, const char *prefix)
{
    json_t *vals = json_array(), *run;
    size_t i;
    json_array_foreach(runs, i, run) {
        const char *v = report_str(run, key);
        if (!vals || !*v || !compare_starts_with(v, prefix) || compare_has_string(vals, v))
            continue;
        if (json_array_append_new(vals, json_string(v)) != 0) {
            json_decref(vals);
            return NULL;
        }
    }
    return vals;
}

/* The kinds marked in which, as "run", "run or revision", "run, revision or
 * platform" (last_join instead of "or" when given). */
static void compare_kinds_text(const int *which, const char *last_join, char *buf, size_t cap)
{
    int n = 0, total = 0;
    size_t used = 0;
    buf[0] = '\0';
    for (int k = 0; k < COMPARE_KINDS; k++)
        total += which[k] != 0;
    for (int k = 0; k < COMPARE_KINDS && used < cap; k++)
        if (which[k]) {
            const char *sep = n == 0 ? "" : n == total - 1 ? last_join : ", ";
            used += (size_t)snprintf(buf + used, cap - used, "%s%s", sep, compare_kind_name[k]);
            n++;
        }
}

/* Error text for a prefix that fits several values of one kind. */
static int compare_ambiguous_values(char side, const char *sel, int kind, const json_t *vals,
                                    cb_err *err)
{
    return cb_fail(err, "%c: \"%s\" is ambiguous: it starts %zu %ss (%s, %s%s)", side, sel,
                   json_array_size(vals), compare_kind_name[kind],
                   json_string_value(json_array_get(vals, 0)),
                   json_string_value(json_array_get(vals, 1)),
                   json_array_size(vals) > 2 ? ", ..." : "");
}

/* Decides a selector's kind and full value among the listed runs.  Returns 0
 * (side->kind and side->value set), or -1 with err: no match, a prefix of
 * several kinds or of several values. */
static int compare_resolve(compare_side *side, const compare_sel *ps, const json_t *runs,
                           cb_err *err)
{
    json_t *found[COMPARE_KINDS] = {NULL};
    int matched[COMPARE_KINDS] = {0}, n_kinds = 0, kind = -1, ret = -1;
    char kinds[64];
    for (int k = 0; k < COMPARE_KINDS; k++) {
        if (!ps->may_be[k])
            continue;
        if (!(found[k] = compare_values_with_prefix(runs, compare_kind_key[k], ps->prefix))) {
            cb_fail(err, "%c: out of memory", side->name);
            goto cleanup;
        }
        if ((matched[k] = json_array_size(found[k]) > 0)) {
            n_kinds++;
            kind = k;
        }
    }
    if (n_kinds == 0) {
        compare_kinds_text(ps->may_be, " or ", kinds, sizeof kinds);
        cb_fail(err, "%c: no %s starts with \"%s\"", side->name, kinds, ps->prefix);
    } else if (n_kinds > 1) {
        compare_kinds_text(matched, " and ", kinds, sizeof kinds);
        cb_fail(err, "%c: \"%s\" is ambiguous: it starts values of several kinds (%s): write "
                "run:, rev: or platform: in front", side->name, side->selector, kinds);
    } else if (json_array_size(found[kind]) > 1) {
        compare_ambiguous_values(side->name, side->selector, kind, found[kind], err);
    } else {
        side->kind = (compare_kind)kind;
        side->value = strdup(json_string_value(json_array_get(found[kind], 0)));
        ret = side->value ? 0 : cb_fail(err, "%c: out of memory", side->name);
    }
cleanup:
    for (int k = 0; k < COMPARE_KINDS; k++)
        json_decref(found[k]);
    return ret;
}

/* ---- the runs a side stands for ------------------------------------------------------- */

static int compare_status_usable(const json_t *run)
{
    const char *status = report_str(run, "status");
    return strcmp(status, "complete") == 0 || strcmp(status, "interrupted") == 0;
}

/* Whether a listed run is one a revision or platform side takes. */
static int compare_run_fits(const json_t *run, const compare_side *side, const compare_opts *o)
{
    return strcmp(report_str(run, compare_kind_key[side->kind]), side->value) == 0 &&
           compare_status_usable(run) &&
           (!o->experiment || strcmp(report_str(run, "experiment"), o->experiment) == 0) &&
           (side->kind != COMPARE_REVISION || !o->platform ||
            compare_starts_with(report_str(run, "fingerprint"), o->platform));
}

static int compare_by_experiment(const void *x, const void *y)
{
    return strcmp(report_str(*(json_t *const *)x, "experiment"),
                  report_str(*(json_t *const *)y, "experiment"));
}

/* The UUIDs of the latest fitting run of each experiment (runs is newest
 * first), ordered by experiment, as a JSON array; NULL when out of memory. */
static json_t *compare_latest_fitting(const json_t *runs, const compare_side *side,
                                      const compare_opts *o)
{
    size_t n = json_array_size(runs), n_kept = 0, i;
    json_t **kept = malloc((n ? n : 1) * sizeof *kept), *uuids = json_array(), *run;
    if (!kept || !uuids)
        goto fail;
    json_array_foreach(runs, i, run) {
        int seen = 0;
        for (size_t k = 0; k < n_kept && !seen; k++)
            seen = strcmp(report_str(kept[k], "experiment"), report_str(run, "experiment")) == 0;
        if (!seen && compare_run_fits(run, side, o))
            kept[n_kept++] = run;
    }
    qsort(kept, n_kept, sizeof *kept, compare_by_experiment);
    for (size_t k = 0; k < n_kept; k++)
        if (json_array_append_new(uuids, json_string(report_str(kept[k], "uuid"))) != 0)
            goto fail;
    free(kept);
    return uuids;
fail:
    free(kept);
    json_decref(uuids);
    return NULL;
}

/* A revision measured on several platforms is refused unless --platform
 * narrows it to one: its runs would not be comparable with each other. */
static int compare_one_platform(const json_t *runs, const compare_side *side,
                                const compare_opts *o, cb_err *err)
{
    json_t *fitting = json_array(), *run;
    size_t i;
    int ret = 0;
    json_array_foreach(runs, i, run)
        if (fitting && compare_run_fits(run, side, o))
            json_array_append(fitting, run);
    json_t *platforms = fitting ? compare_values_with_prefix(fitting, "fingerprint", "") : NULL;
    if (!platforms)
        ret = cb_fail(err, "%c: out of memory", side->name);
    else if (json_array_size(platforms) > 1)
        ret = cb_fail(err, "%c: revision %s was measured on %zu platforms (%s, %s%s): choose one "
                      "with --platform PREFIX", side->name, side->value,
                      json_array_size(platforms), json_string_value(json_array_get(platforms, 0)),
                      json_string_value(json_array_get(platforms, 1)),
                      json_array_size(platforms) > 2 ? ", ..." : "");
    json_decref(platforms);
    json_decref(fitting);
    return ret;
}

/* Checks that a run selector's run may be compared (not running; of the
 * experiment asked for) and returns its UUID in a JSON array. */
static json_t *compare_single_run(const json_t *runs, const compare_side *side,
                                  const compare_opts *o, cb_err *err)
{
    size_t i;
    json_t *run;
    json_array_foreach(runs, i, run) {
        if (strcmp(report_str(run, "uuid"), side->value) != 0)
            continue;
        if (strcmp(report_str(run, "status"), "running") == 0) {
            cb_fail(err, "%c: run %s is still running", side->name, side->value);
            return NULL;
        }
        if (o->experiment && strcmp(report_str(run, "experiment"), o->experiment) != 0) {
            cb_fail(err, "%c: run %s is of experiment %s, not %s", side->name, side->value,
                    report_str(run, "experiment"), o->experiment);
            return NULL;
        }
    }
    json_t *uuids = json_array();
    if (!uuids || json_array_append_new(uuids, json_string(side->value)) != 0) {
        json_decref(uuids);
        cb_fail(err, "%c: out of memory", side->name);
        return NULL;
    }
    return uuids;
}

/* The UUIDs of the runs the side stands for; NULL with err when none. */
static json_t *compare_side_uuids(const json_t *runs, const compare_side *side,
                                  const compare_opts *o, cb_err *err)
{
    if (side->kind == COMPARE_RUN)
        return compare_single_run(runs, side, o, err);
    if (side->kind == COMPARE_REVISION && compare_one_platform(runs, side, o, err) != 0)
        return NULL;
    json_t *uuids = compare_latest_fitting(runs, side, o);
    if (!uuids)
        cb_fail(err, "%c: out of memory", side->name);
    else if (json_array_size(uuids) == 0) {
        cb_fail(err, "%c: no complete or interrupted run %s %s %s%s%s", side->name,
                side->kind == COMPARE_REVISION ? "at" : "on", compare_kind_name[side->kind],
                side->value, o->experiment ? " of experiment " : "",
                o->experiment ? o->experiment : "");
        json_decref(uuids);
        uuids = NULL;
    }
    return uuids;
}

/* Resolves one selector and loads its runs with their raw samples. */
static int compare_load_side(store *s, const json_t *runs, const char *sel, const compare_opts *o,
                             compare_side *side, cb_err *err)
{
    compare_sel ps;
    if (!(side->selector = strdup(sel)) || !(side->runs = json_array()))
        return cb_fail(err, "%c: out of memory", side->name);
    if (compare_parse(side->name, sel, &ps, err) != 0 || compare_resolve(side, &ps, runs, err) != 0)
        return -1;
    json_t *uuids = compare_side_uuids(runs, side, o, err), *uuid;
    size_t i;
    int ret = uuids ? 0 : -1;
    json_array_foreach(uuids, i, uuid) {
        json_t *run = store_run_results_json(s, json_string_value(uuid), err);
        if (!run || json_array_append_new(side->runs, run) != 0) {
            ret = run ? cb_fail(err, "%c: out of memory", side->name)
                      : cb_wrap(err, "%c", side->name);
            break;
        }
    }
    json_decref(uuids);
    return ret;
}

/* ---- points ---------------------------------------------------------------------------- */

/* One measurement of a side and the key of its point. */
typedef struct compare_obs {
    json_t *m;
    const char *experiment;
    char *key; /* owned */
    int used;  /* matched already */
} compare_obs;

typedef struct compare_obs_list {
    compare_obs *v;
    size_t n;
} compare_obs_list;

static void compare_obs_free(compare_obs_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i].key);
    free(l->v);
}

/* The measurements of a side with their keys: experiment, subject, impl,
 * phase, canonical params and threads, separated by a unit separator. */
static int compare_collect(const compare_side *side, compare_obs_list *out)
{
    size_t total = 0, i, j;
    json_t *run, *m;
    json_array_foreach(side->runs, i, run)
        total += json_array_size(json_object_get(run, "measurements"));
    out->n = 0;
    if (!(out->v = calloc(total ? total : 1, sizeof *out->v)))
        return -1;
    json_array_foreach(side->runs, i, run) {
        const char *experiment = report_str(run, "experiment");
        json_array_foreach(json_object_get(run, "measurements"), j, m) {
            compare_obs *ob = &out->v[out->n];
            if (asprintf(&ob->key, "%s\x1f%s\x1f%s\x1f%s\x1f%s\x1f%lld", experiment,
                         report_str(m, "subject"), report_str(m, "impl"), report_str(m, "phase"),
                         report_str(m, "params_json"),
                         (long long)json_integer_value(json_object_get(m, "threads"))) < 0)
                return -1;
            ob->m = m;
            ob->experiment = experiment;
            out->n++;
        }
    }
    return 0;
}

static int compare_obs_ptr_cmp(const void *x, const void *y)
{
    return strcmp((*(compare_obs *const *)x)->key, (*(compare_obs *const *)y)->key);
}

/* "experiment subject/impl phase k=v ... threads=N" (heap, caller frees). */
static char *compare_label(const char *experiment, json_t *m)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return NULL;
    fprintf(f, "%s %s/%s %s", experiment, report_str(m, "subject"), report_str(m, "impl"),
            report_str(m, "phase"));
    json_t *params = json_object_get(m, "params"), *v;
    const char *key;
    json_object_foreach(params, key, v) {
        char *dumped = json_is_string(v) ? NULL : json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        fprintf(f, " %s=%s", key, dumped ? dumped : json_string_value(v));
        free(dumped);
    }
    if (!json_object_get(params, "threads"))
        fprintf(f, " threads=%lld", (long long)json_integer_value(json_object_get(m, "threads")));
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        free(text);
        return NULL;
    }
    return text;
}

/* Fills the identity of a point from the measurement of one side. */
static int compare_identify(compare_point *p, const compare_obs *ob)
{
    p->experiment = ob->experiment;
    p->subject = report_str(ob->m, "subject");
    p->impl = report_str(ob->m, "impl");
    p->phase = report_str(ob->m, "phase");
    p->params_json = report_str(ob->m, "params_json");
    p->threads = (int)json_integer_value(json_object_get(ob->m, "threads"));
    p->ratio = (stats_ratio){NAN, NAN, NAN, NAN, NAN, NAN};
    p->min_p = NAN;
    return (p->label = compare_label(ob->experiment, ob->m)) ? 0 : -1;
}

/* The numeric raw samples of a measurement (heap, caller frees) and their
 * count; NULL when memory runs out. */
static double *compare_samples(json_t *m, int *n)
{
    json_t *samples = json_object_get(m, "samples"), *v;
    double *x = malloc((json_array_size(samples) + 1) * sizeof *x);
    size_t i;
    *n = 0;
    if (!x)
        return NULL;
    json_array_foreach(samples, i, v)
        if (json_is_number(v))
            x[(*n)++] = json_number_value(v);
    return x;
}

static int compare_all_positive(const double *x, int n)
{
    for (int i = 0; i < n; i++)
        if (!(x[i] > 0) || isinf(x[i]))
            return 0;
    return n > 0;
}

/* Tests a point found in both sides: ratio and interval, Mann-Whitney, the
 * smallest attainable p and the verdict.  A side without samples, or with a
 * time that is not > 0, leaves it not tested.  -1 when memory runs out. */
static int compare_test(compare_point *p, json_t *ma, json_t *mb, const compare_opts *o)
{
    double *a = compare_samples(ma, &p->n_a), *b = compare_samples(mb, &p->n_b);
    int ret = a && b ? 0 : -1;
    p->verdict = COMPARE_NOT_TESTED;
    if (ret == 0 && compare_all_positive(a, p->n_a) && compare_all_positive(b, p->n_b)) {
        if (stats_median_ratio_ci(a, p->n_a, b, p->n_b, 1 - o->alpha, &p->ratio) != 0 ||
            stats_mann_whitney(a, p->n_a, b, p->n_b, &p->test) != 0)
            ret = -1;
        p->min_p = stats_mw_min_p(p->n_a, p->n_b);
        p->too_few = !(p->min_p < o->alpha);
        p->verdict = compare_verdict_for(p->ratio.ratio, p->test.p, o->alpha, o->threshold);
    }
    free(a);
    free(b);
    return ret;
}

/* A point of one side only: its sample count, the other side's 0. */
static void compare_one_sided(compare_point *p, json_t *m, compare_verdict which)
{
    int n;
    free(compare_samples(m, &n));
    p->n_a = which == COMPARE_ONLY_A ? n : 0;
    p->n_b = which == COMPARE_ONLY_B ? n : 0;
    p->verdict = which;
}

/* Matches B's measurements against A's and fills r->points. */
static int compare_match(compare_result *r, compare_obs_list *la, compare_obs_list *lb)
{
    compare_obs **sorted_b = malloc((lb->n ? lb->n : 1) * sizeof *sorted_b);
    if (!sorted_b || !(r->points = calloc(la->n + lb->n + 1, sizeof *r->points))) {
        free(sorted_b);
        return -1;
    }
    for (size_t j = 0; j < lb->n; j++)
        sorted_b[j] = &lb->v[j];
    qsort(sorted_b, lb->n, sizeof *sorted_b, compare_obs_ptr_cmp);
    int ret = 0;
    for (size_t i = 0; i < la->n && ret == 0; i++) {
        compare_obs *key = &la->v[i], **hit =
            bsearch(&key, sorted_b, lb->n, sizeof *sorted_b, compare_obs_ptr_cmp);
        compare_point *p = &r->points[r->n_points++];
        ret = compare_identify(p, key);
        if (ret == 0 && hit && !(*hit)->used) {
            (*hit)->used = 1;
            ret = compare_test(p, key->m, (*hit)->m, &r->opts);
        } else if (ret == 0) {
            compare_one_sided(p, key->m, COMPARE_ONLY_A);
        }
    }
    for (size_t j = 0; j < lb->n && ret == 0; j++) {
        if (lb->v[j].used)
            continue;
        compare_point *p = &r->points[r->n_points++];
        ret = compare_identify(p, &lb->v[j]);
        compare_one_sided(p, lb->v[j].m, COMPARE_ONLY_B);
    }
    free(sorted_b);
    return ret;
}

/* Counts the verdicts and computes the geometric mean of the tested ratios. */
static int compare_summarise(compare_result *r)
{
    double *ratios = malloc((r->n_points + 1) * sizeof *ratios);
    int k = 0;
    if (!ratios)
        return -1;
    for (size_t i = 0; i < r->n_points; i++) {
        const compare_point *p = &r->points[i];
        r->n_slower += p->verdict == COMPARE_SLOWER;
        r->n_faster += p->verdict == COMPARE_FASTER;
        r->n_unchanged += p->verdict == COMPARE_UNCHANGED;
        r->n_not_tested += p->verdict == COMPARE_NOT_TESTED;
        r->n_only_a += p->verdict == COMPARE_ONLY_A;
        r->n_only_b += p->verdict == COMPARE_ONLY_B;
        r->n_too_few += p->too_few;
        if (p->verdict <= COMPARE_SLOWER)
            ratios[k++] = p->ratio.ratio;
    }
    r->geomean = r->geomean_lo = r->geomean_hi = NAN;
    int ret = k == 0 ? 0
                     : stats_geomean_ci(ratios, k, 1 - r->opts.alpha, COMPARE_GEOMEAN_RESAMPLES,
                                        COMPARE_SEED, &r->geomean, &r->geomean_lo,
                                        &r->geomean_hi);
    free(ratios);
    return ret;
}

/* Matches and tests the two loaded sides.  -1 with err when no point is in
 * both (nothing was compared) or memory runs out. */
static int compare_points(compare_result *r, cb_err *err)
{
    compare_obs_list la = {0}, lb = {0};
    int ret = -1;
    if (compare_collect(&r->a, &la) != 0 || compare_collect(&r->b, &lb) != 0 ||
        compare_match(r, &la, &lb) != 0 || compare_summarise(r) != 0) {
        cb_fail(err, "compare: out of memory");
    } else if (r->n_points == r->n_only_a + r->n_only_b) {
        cb_fail(err, "A and B have no point in common (A: %zu points, B: %zu): nothing to compare",
                la.n, lb.n);
    } else {
        ret = 0;
    }
    compare_obs_free(&la);
    compare_obs_free(&lb);
    return ret;
}

/* ---- the entry points -------------------------------------------------------------------- */

compare_verdict compare_verdict_for(double ratio, double p, double alpha, double threshold)
{
    if (!(p < alpha))
        return COMPARE_UNCHANGED;
    if (ratio > 1 + threshold)
        return COMPARE_SLOWER;
    if (ratio < 1 / (1 + threshold))
        return COMPARE_FASTER;
    return COMPARE_UNCHANGED;
}

const char *compare_verdict_name(compare_verdict v)
{
    static const char *const names[] = {"no significant change", "faster", "slower",
                                         "not tested", "only in A", "only in B"};
    return v <= COMPARE_ONLY_B ? names[v] : "?";
}

int compare_exit_status(const compare_result *r)
{
    return r->n_slower > 0;
}

static int compare_check_opts(const compare_opts *o, cb_err *err)
{
    if (!(o->alpha > 0 && o->alpha < 1))
        return cb_fail(err, "alpha %g: must be between 0 and 1", o->alpha);
    if (!(o->threshold >= 0) || isinf(o->threshold))
        return cb_fail(err, "threshold %g: must be a finite number >= 0", o->threshold);
    return 0;
}

int compare_sets(store *s, const char *sel_a, const char *sel_b, const compare_opts *o,
                 compare_result **out, cb_err *err)
{
    *out = NULL;
    if (compare_check_opts(o, err) != 0)
        return -1;
    compare_result *r = calloc(1, sizeof *r);
    if (!r)
        return cb_fail(err, "compare: out of memory");
    r->opts = *o;
    r->a.name = 'A';
    r->b.name = 'B';
    json_t *runs = store_runs_json(s, NULL, err);
    int ret = -1;
    if (runs && json_array_size(runs) == 0)
        cb_fail(err, "the database holds no runs: nothing to compare");
    else if (runs && compare_load_side(s, runs, sel_a, o, &r->a, err) == 0 &&
             compare_load_side(s, runs, sel_b, o, &r->b, err) == 0 && compare_points(r, err) == 0)
        ret = 0;
    json_decref(runs);
    if (ret != 0)
        compare_free(r);
    else
        *out = r;
    return ret;
}

static void compare_side_free(compare_side *side)
{
    free(side->selector);
    free(side->value);
    json_decref(side->runs);
}

void compare_free(compare_result *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_points; i++)
        free(r->points[i].label);
    free(r->points);
    compare_side_free(&r->a);
    compare_side_free(&r->b);
    free(r);
}

/* ---- text --------------------------------------------------------------------------------- */

/* One run of a side in a line: "run UUID (experiment E, platform FP (CPU),
 * revision R, dirty, complete, + N earlier runs it resumed)". */
static void compare_write_run(const json_t *run, const char *lead, FILE *out)
{
    const json_t *platform = json_object_get(run, "platform");
    size_t chain = json_array_size(json_object_get(run, "runs"));
    json_t *dirty = json_object_get(run, "dirty");
    fprintf(out, "%srun %s (experiment %s, platform %.16s (%s), revision %.12s%s, %s", lead,
            report_str(run, "uuid"), report_str(run, "experiment"),
            report_str(platform, "fingerprint"), report_str(platform, "cpu_model"),
            report_str(run, "revision"), json_integer_value(dirty) == 1 ? ", dirty" : "",
            report_str(run, "status"));
    if (chain > 1)
        fprintf(out, ", + %zu earlier run%s it resumed", chain - 1, chain > 2 ? "s" : "");
    fputs(")\n", out);
}

static void compare_write_side(const compare_side *side, const char *prefix, FILE *out)
{
    size_t i, n = json_array_size(side->runs);
    json_t *run;
    if (side->kind == COMPARE_RUN) {
        char lead[64];
        snprintf(lead, sizeof lead, "%s%c = ", prefix, side->name);
        compare_write_run(json_array_get(side->runs, 0), lead, out);
        return;
    }
    fprintf(out, "%s%c = %s %s: %zu run%s, the latest of each experiment\n", prefix, side->name,
            compare_kind_name[side->kind], side->value, n, n == 1 ? "" : "s");
    char lead[64];
    snprintf(lead, sizeof lead, "  %s", prefix);
    json_array_foreach(side->runs, i, run)
        compare_write_run(run, lead, out);
}

void compare_write_sides(const compare_result *r, const char *prefix, FILE *out)
{
    compare_write_side(&r->a, prefix, out);
    compare_write_side(&r->b, prefix, out);
}

void compare_too_few_text(const compare_result *r, const compare_point *p, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s: %d and %d repetitions: the smallest attainable p is %.2g, not below "
             "alpha %g, so no change can be detected", p->label, p->n_a, p->n_b, p->min_p,
             r->opts.alpha);
}

/* ---- Markdown ---------------------------------------------------------------------------- */

#define COMPARE_COLS 8

/* One table row: the cells as text (the label is borrowed). */
typedef struct compare_row {
    const char *cell[COMPARE_COLS];
    char text[COMPARE_COLS][96];
} compare_row;

/* Columns a terminal shows for UTF-8 text (one per code point). */
static size_t compare_width(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        w += ((unsigned char)*s & 0xC0) != 0x80;
    return w;
}

/* A ratio with three decimals in the usual range, three digits outside it. */
static void compare_ratio_value(double v, char *buf, size_t cap)
{
    report_value(v, v >= 0.01 && v < 100 ? "%.3f" : "%.3g", buf, cap);
}

/* "1.032 [0.998, 1.067]", "1.032 [–]" without an interval, "–" untested. */
static void compare_ratio_text(const stats_ratio *q, char *buf, size_t cap)
{
    char ratio[24], lo[24], hi[24];
    compare_ratio_value(q->ratio, ratio, sizeof ratio);
    compare_ratio_value(q->lo, lo, sizeof lo);
    compare_ratio_value(q->hi, hi, sizeof hi);
    if (isnan(q->ratio))
        snprintf(buf, cap, "–");
    else if (isnan(q->lo))
        snprintf(buf, cap, "%s [–]", ratio);
    else
        snprintf(buf, cap, "%s [%s, %s]", ratio, lo, hi);
}

/* p with two digits; "< 1e-300" when it underflowed to 0; "–" untested. */
static void compare_p_text(const compare_point *p, char *buf, size_t cap)
{
    if (p->verdict == COMPARE_NOT_TESTED)
        snprintf(buf, cap, "–");
    else if (p->test.p == 0)
        snprintf(buf, cap, "< 1e-300");
    else
        snprintf(buf, cap, "%.2g", p->test.p);
}

static void compare_fill_row(const compare_point *p, compare_row *row)
{
    row->cell[0] = p->label;
    snprintf(row->text[1], sizeof row->text[1], "%d", p->n_a);
    snprintf(row->text[2], sizeof row->text[2], "%d", p->n_b);
    report_time(p->ratio.median_a, row->text[3], sizeof row->text[3]);
    report_time(p->ratio.median_b, row->text[4], sizeof row->text[4]);
    compare_ratio_text(&p->ratio, row->text[5], sizeof row->text[5]);
    compare_p_text(p, row->text[6], sizeof row->text[6]);
    snprintf(row->text[7], sizeof row->text[7], "%s%s", compare_verdict_name(p->verdict),
             p->too_few ? " (too few repetitions)" : "");
    for (int c = 1; c < COMPARE_COLS; c++)
        row->cell[c] = row->text[c];
}

/* Columns a cell takes once its '|' are escaped as "\|". */
static size_t compare_cell_width(const char *text)
{
    size_t w = compare_width(text);
    for (; *text; text++)
        w += *text == '|';
    return w;
}

/* A cell padded to width, its '|' escaped so the table holds. */
static void compare_write_cell(const char *text, size_t width, int right, FILE *out)
{
    int pad = (int)(width - compare_cell_width(text));
    if (right)
        fprintf(out, "%*s", pad, "");
    for (; *text; text++) {
        if (*text == '|')
            fputc('\\', out);
        fputc(*text, out);
    }
    if (!right)
        fprintf(out, "%*s", pad, "");
}

static void compare_write_row(const compare_row *row, const size_t *width, FILE *out)
{
    for (int c = 0; c < COMPARE_COLS; c++) {
        fputs("| ", out);
        compare_write_cell(row->cell[c], width[c], c > 0 && c < 7, out);
        fputc(' ', out);
    }
    fputs("|\n", out);
}

/* The table of the points in both sides, columns padded to line up. */
static int compare_write_table(const compare_result *r, FILE *out)
{
    compare_row *rows = calloc(r->n_points + 1, sizeof *rows);
    size_t width[COMPARE_COLS] = {0}, n = 1;
    if (!rows)
        return -1;
    char ci_head[48];
    snprintf(ci_head, sizeof ci_head, "B/A [%g%% CI]", 100 * (1 - r->opts.alpha));
    const char *head[COMPARE_COLS] = {"point", "n A", "n B", "median A", "median B", ci_head,
                                      "p", "verdict"};
    memcpy(rows[0].cell, head, sizeof head);
    for (size_t i = 0; i < r->n_points; i++)
        if (r->points[i].verdict < COMPARE_ONLY_A)
            compare_fill_row(&r->points[i], &rows[n++]);
    for (size_t i = 0; i < n; i++)
        for (int c = 0; c < COMPARE_COLS; c++) {
            size_t w = compare_cell_width(rows[i].cell[c]);
            width[c] = w > width[c] ? w : width[c] < 3 ? 3 : width[c]; /* "---" at least */
        }
    compare_write_row(&rows[0], width, out);
    for (int c = 0; c < COMPARE_COLS; c++) { /* "| :----- " or "| -----: " */
        int right = c > 0 && c < 7;
        fputs(right ? "| " : "| :", out);
        for (size_t k = 1; k < width[c]; k++)
            fputc('-', out);
        fputs(right ? ": " : " ", out);
    }
    fputs("|\n", out);
    for (size_t i = 1; i < n; i++)
        compare_write_row(&rows[i], width, out);
    free(rows);
    return 0;
}

static void compare_write_method(const compare_result *r, FILE *out)
{
    double a = r->opts.alpha, t = r->opts.threshold;
    fprintf(out, "B/A is the ratio of median times (above 1: B is slower) with its %g%% confidence "
            "interval (Bonett-Price, distribution-free); p is the two-sided Mann-Whitney U test "
            "of the raw samples (exact when both sides have at most %d repetitions and no ties, "
            "else normal with tie and continuity corrections).  A point is slower when p < %g and "
            "B/A > %.4g, faster when p < %g and B/A < %.4g (threshold %g%%).\n\n",
            100 * (1 - a), STATS_MW_EXACT_MAX, a, 1 + t, a, 1 / (1 + t), 100 * t);
}

static void compare_write_geomean(const compare_result *r, FILE *out)
{
    size_t k = r->n_slower + r->n_faster + r->n_unchanged;
    if (k == 0) {
        fputs("Geometric mean of B/A: – (no point could be tested).\n\n", out);
        return;
    }
    fprintf(out, "Geometric mean of B/A over %zu compared point%s: %.3f, %g%% interval "
            "[%.3f, %.3f] (percentile bootstrap over the points, %d resamples, fixed seed: it "
            "shows how much the figure depends on which points were measured, not each point's "
            "own noise).\n\n", k, k == 1 ? "" : "s", r->geomean, 100 * (1 - r->opts.alpha),
            r->geomean_lo, r->geomean_hi, COMPARE_GEOMEAN_RESAMPLES);
}

static void compare_write_summary(const compare_result *r, FILE *out)
{
    fprintf(out, "Summary: %zu slower, %zu faster, %zu no significant change, %zu not tested; "
            "%zu only in A, %zu only in B; exit status %d.\n", r->n_slower, r->n_faster,
            r->n_unchanged, r->n_not_tested, r->n_only_a, r->n_only_b, compare_exit_status(r));
}

/* The points of one verdict as a bulleted section (nothing when none). */
static void compare_write_list(const compare_result *r, compare_verdict which, const char *title,
                               FILE *out)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n_points; i++)
        n += r->points[i].verdict == which;
    if (n == 0)
        return;
    fprintf(out, "\n### %s (%zu)\n\n", title, n);
    for (size_t i = 0; i < r->n_points; i++)
        if (r->points[i].verdict == which)
            fprintf(out, "- %s\n", r->points[i].label);
}

static void compare_write_warnings(const compare_result *r, FILE *out)
{
    if (r->n_too_few == 0)
        return;
    fprintf(out, "\n### Warnings (%zu)\n\n", r->n_too_few);
    for (size_t i = 0; i < r->n_points; i++)
        if (r->points[i].too_few) {
            char text[1024];
            compare_too_few_text(r, &r->points[i], text, sizeof text);
            fprintf(out, "- %s\n", text);
        }
}

int compare_write_md(const compare_result *r, FILE *out)
{
    fputs("## ctxbench compare\n\n", out);
    compare_write_sides(r, "- ", out);
    fputc('\n', out);
    compare_write_method(r, out);
    if (compare_write_table(r, out) != 0)
        return -1;
    fputc('\n', out);
    compare_write_geomean(r, out);
    compare_write_summary(r, out);
    compare_write_list(r, COMPARE_ONLY_A, "Only in A", out);
    compare_write_list(r, COMPARE_ONLY_B, "Only in B", out);
    compare_write_list(r, COMPARE_NOT_TESTED, "Not tested (no raw samples, or a time not > 0)",
                       out);
    compare_write_warnings(r, out);
    return ferror(out) ? -1 : 0;
}

/* ---- CSV ---------------------------------------------------------------------------------- */

/* ",<number>" or "," when it is not finite. */
static void compare_csv_num(double v, FILE *out)
{
    fputc(',', out);
    if (isfinite(v))
        fprintf(out, "%.9g", v);
}

int compare_write_csv(const compare_result *r, FILE *out)
{
    fputs("experiment,subject,impl,phase,params,threads,n_a,n_b,median_a_s,median_b_s,ratio,"
          "ci_lo,ci_hi,u,z,p,p_exact,min_p,too_few_reps,verdict\n", out);
    for (size_t i = 0; i < r->n_points; i++) {
        const compare_point *p = &r->points[i];
        int tested = p->verdict <= COMPARE_SLOWER;
        const char *fields[] = {p->experiment, p->subject, p->impl, p->phase, p->params_json};
        for (size_t f = 0; f < 5; f++) {
            rcsv_field(fields[f], out);
            fputc(',', out);
        }
        fprintf(out, "%d,%d,%d", p->threads, p->n_a, p->n_b);
        const double nums[] = {p->ratio.median_a, p->ratio.median_b, p->ratio.ratio,
                               p->ratio.lo, p->ratio.hi, tested ? p->test.u : NAN,
                               tested ? p->test.z : NAN, tested ? p->test.p : NAN};
        for (size_t k = 0; k < sizeof nums / sizeof nums[0]; k++)
            compare_csv_num(nums[k], out);
        fprintf(out, ",%s", tested ? (p->test.exact ? "1" : "0") : "");
        compare_csv_num(p->min_p, out);
        fprintf(out, ",%d,%s\n", p->too_few, compare_verdict_name(p->verdict));
    }
    return ferror(out) ? -1 : 0;
}

/* ---- JSON --------------------------------------------------------------------------------- */

/* A number, or null when it is not finite (JSON has no NaN). */
static json_t *compare_jnum(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *compare_side_json(const compare_side *side)
{
    json_t *runs = json_array(), *run;
    size_t i;
    json_array_foreach(side->runs, i, run)
        json_array_append_new(runs, json_pack("{s:s, s:s, s:s, s:s, s:o, s:s, s:O}", "uuid",
                                              report_str(run, "uuid"), "experiment",
                                              report_str(run, "experiment"), "status",
                                              report_str(run, "status"), "revision",
                                              report_str(run, "revision"), "dirty",
                                              json_copy(json_object_get(run, "dirty")),
                                              "fingerprint",
                                              report_str(json_object_get(run, "platform"),
                                                         "fingerprint"),
                                              "runs", json_object_get(run, "runs")));
    return json_pack("{s:s, s:s, s:s, s:o}", "selector", side->selector, "kind",
                     compare_kind_name[side->kind], "value", side->value, "runs", runs);
}

static json_t *compare_point_json(const compare_point *p)
{
    int tested = p->verdict <= COMPARE_SLOWER;
    json_t *params = json_loads(p->params_json, JSON_DECODE_ANY, NULL);
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:i, s:i, s:i, s:o, s:o, s:o, s:o, s:o, "
                     "s:o, s:o, s:o, s:o, s:o, s:b, s:s}",
                     "point", p->label, "experiment", p->experiment, "subject", p->subject,
                     "impl", p->impl, "phase", p->phase, "params", params ? params : json_null(),
                     "threads", p->threads, "n_a", p->n_a, "n_b", p->n_b,
                     "median_a_s", compare_jnum(p->ratio.median_a),
                     "median_b_s", compare_jnum(p->ratio.median_b),
                     "ratio", compare_jnum(p->ratio.ratio), "ci_lo", compare_jnum(p->ratio.lo),
                     "ci_hi", compare_jnum(p->ratio.hi),
                     "u", tested ? compare_jnum(p->test.u) : json_null(),
                     "z", tested ? compare_jnum(p->test.z) : json_null(),
                     "p", tested ? compare_jnum(p->test.p) : json_null(),
                     "p_exact", tested ? json_boolean(p->test.exact) : json_null(),
                     "min_p", compare_jnum(p->min_p), "too_few_reps", p->too_few,
                     "verdict", compare_verdict_name(p->verdict));
}

json_t *compare_to_json(const compare_result *r)
{
    json_t *points = json_array();
    for (size_t i = 0; points && i < r->n_points; i++)
        if (json_array_append_new(points, compare_point_json(&r->points[i])) != 0) {
            json_decref(points);
            points = NULL;
        }
    if (!points)
        return NULL;
    return json_pack(
        "{s:f, s:f, s:o, s:o, s:o, s:{s:i, s:o, s:o, s:o, s:i, s:s}, "
        "s:{s:i, s:i, s:i, s:i, s:i, s:i, s:i}, s:i}",
        "alpha", r->opts.alpha, "threshold", r->opts.threshold, "a", compare_side_json(&r->a),
        "b", compare_side_json(&r->b), "points", points, "geomean", "n_points",
        (int)(r->n_slower + r->n_faster + r->n_unchanged), "value", compare_jnum(r->geomean),
        "ci_lo", compare_jnum(r->geomean_lo), "ci_hi", compare_jnum(r->geomean_hi),
        "resamples", COMPARE_GEOMEAN_RESAMPLES, "method",
        "percentile bootstrap over the points, fixed seed", "summary", "slower",
        (int)r->n_slower, "faster", (int)r->n_faster, "unchanged", (int)r->n_unchanged,
        "not_tested", (int)r->n_not_tested, "only_a", (int)r->n_only_a, "only_b",
        (int)r->n_only_b, "too_few_reps", (int)r->n_too_few, "exit_status",
        compare_exit_status(r));
}
