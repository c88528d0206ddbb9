/* reports/select.c — which results a report shows (report_select in
 * report.h): the latest results of each experiment and platform, or the
 * runs named (each with the results of its resumption chain), narrowed to
 * the experiments and platforms named.  Every name that matches nothing is
 * an error that says so.  Never: no rendering; reads the store only
 * through db/store.h. */
#include "reports/report.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "reports/format.h"

/* 1 when name is one of list[0..n). */
static int rsel_listed(const char *name, const char *const *list, int n)
{
    for (int i = 0; i < n; i++)
        if (strcmp(name, list[i]) == 0)
            return 1;
    return 0;
}

/* 1 when the group ran on a platform whose fingerprint starts with prefix. */
static int rsel_on_platform(const json_t *group, const char *prefix)
{
    const char *fp = report_str(json_object_get(group, "platform"), "fingerprint");
    return prefix[0] && strncasecmp(fp, prefix, strlen(prefix)) == 0;
}

/* The latest results of the named experiments (or all), appended to out. */
static int rsel_latest(store *s, const report_options *o, json_t *out, cb_err *err)
{
    for (int i = 0; i < (o->n_experiments ? o->n_experiments : 1); i++) {
        const char *name = o->n_experiments ? o->experiments[i] : NULL;
        json_t *groups = store_latest_runs_json(s, name, err);
        if (!groups)
            return -1;
        int empty = json_array_size(groups) == 0;
        json_array_extend(out, groups);
        json_decref(groups);
        if (empty && name)
            return cb_fail(err, "report: no results for experiment '%s' (ctxbench db runs lists "
                                "the experiments)", name);
    }
    return 0;
}

/* The results of each named run, appended to out (a run named twice once). */
static int rsel_runs(store *s, const report_options *o, json_t *out, cb_err *err)
{
    for (int i = 0; i < o->n_runs; i++) {
        json_t *group = store_run_results_json(s, o->runs[i], err);
        if (!group)
            return cb_wrap(err, "report: --run %s", o->runs[i]);
        const char *experiment = report_str(group, "experiment");
        if (o->n_experiments && !rsel_listed(experiment, o->experiments, o->n_experiments)) {
            cb_fail(err, "report: run %s is of experiment '%s', which --experiment leaves out",
                    o->runs[i], experiment);
            json_decref(group);
            return -1;
        }
        int seen = 0;
        size_t k;
        json_t *g;
        json_array_foreach(out, k, g)
            seen |= strcmp(report_str(g, "uuid"), report_str(group, "uuid")) == 0;
        if (seen)
            json_decref(group);
        else
            json_array_append_new(out, group);
    }
    return 0;
}

/* Keeps the groups on the named platforms; every prefix must match one. */
static json_t *rsel_platforms(json_t *groups, const report_options *o, cb_err *err)
{
    if (o->n_platforms == 0)
        return json_incref(groups);
    json_t *kept = json_array();
    for (int p = 0; p < o->n_platforms && kept; p++) {
        int any = 0;
        size_t i;
        json_t *g;
        json_array_foreach(groups, i, g)
            any |= rsel_on_platform(g, o->platforms[p]);
        if (!any) {
            cb_fail(err, "report: no selected results on platform '%s' (a fingerprint or its "
                         "first hex digits)", o->platforms[p]);
            json_decref(kept);
            return NULL;
        }
    }
    size_t i;
    json_t *g;
    json_array_foreach(groups, i, g) {
        int on = 0;
        for (int p = 0; p < o->n_platforms; p++)
            on |= rsel_on_platform(g, o->platforms[p]);
        if (on)
            json_array_append(kept, g);
    }
    return kept;
}

/* Experiment, then platform fingerprint, then start time: a stable order. */
static int rsel_cmp(const void *a, const void *b)
{
    const json_t *x = *(const json_t *const *)a, *y = *(const json_t *const *)b;
    int c = strcmp(report_str(x, "experiment"), report_str(y, "experiment"));
    if (c == 0)
        c = strcmp(report_str(json_object_get(x, "platform"), "fingerprint"),
                   report_str(json_object_get(y, "platform"), "fingerprint"));
    return c ? c : strcmp(report_str(x, "started_at"), report_str(y, "started_at"));
}

static json_t *rsel_sorted(json_t *groups)
{
    size_t n = json_array_size(groups);
    json_t **v = malloc((n ? n : 1) * sizeof *v);
    json_t *sorted = v ? json_array() : NULL;
    for (size_t i = 0; sorted && i < n; i++)
        v[i] = json_array_get(groups, i);
    if (sorted) {
        qsort(v, n, sizeof *v, rsel_cmp);
        for (size_t i = 0; i < n; i++)
            json_array_append(sorted, v[i]);
    }
    free(v);
    return sorted;
}

json_t *report_select(store *s, const report_options *o, cb_err *err)
{
    json_t *groups = json_array(), *kept = NULL, *out = NULL;
    if (!groups) {
        cb_fail(err, "report: out of memory");
        return NULL;
    }
    int rc = o->n_runs ? rsel_runs(s, o, groups, err) : rsel_latest(s, o, groups, err);
    if (rc == 0 && (kept = rsel_platforms(groups, o, err)) != NULL) {
        if (json_array_size(kept) == 0)
            cb_fail(err, "report: the database holds no results yet (run `make` or ctxbench "
                         "run experiments/NAME.ini)");
        else if (!(out = rsel_sorted(kept)))
            cb_fail(err, "report: out of memory");
    }
    json_decref(groups);
    json_decref(kept);
    return out;
}
