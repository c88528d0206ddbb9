/* reports/report.c — the Markdown report, from the database alone (see report.h).
 *
 * Input is the JSON the store hands out (store_latest_runs_json): one object
 * per (experiment, platform) with its runs' provenance, its measurements and
 * the platform with its probe figures.  Every number printed is either stored
 * or derived here from stored numbers (GFLOP/s = flops / median, GB/s = bytes /
 * median, the roofline from the stored probes); nothing is measured here. */
#include "reports/report.h"

#include "reports/architectures.h"
#include "reports/format.h"
#include "reports/operators.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

json_t *report_latest_probes(const json_t *platform)
{
    json_t *latest = json_array();
    size_t i;
    json_t *p;
    /* Probes come oldest first: a later figure of the same kind and thread
     * count replaces an earlier one. */
    json_array_foreach(json_object_get(platform, "probes"), i, p) {
        size_t j;
        json_t *q;
        int replaced = 0;
        json_array_foreach(latest, j, q) {
            if (strcmp(report_str(q, "kind"), report_str(p, "kind")) == 0 &&
                json_integer_value(json_object_get(q, "threads")) ==
                    json_integer_value(json_object_get(p, "threads"))) {
                json_array_set(latest, j, p);
                replaced = 1;
                break;
            }
        }
        if (!replaced)
            json_array_append(latest, p);
    }
    return latest;
}

report_roof report_roof_for(const json_t *platform, int threads)
{
    report_roof exact = {0, 0, threads}, best = {0, 0, 0};
    json_t *latest = report_latest_probes(platform);
    size_t i;
    json_t *p;
    json_array_foreach(latest, i, p) {
        int t = (int)json_integer_value(json_object_get(p, "threads"));
        double v = report_num(p, "value");
        int is_bw = strcmp(report_str(p, "kind"), "triad_gbps") == 0;
        int is_fl = strcmp(report_str(p, "kind"), "fma_gflops") == 0;
        if (!(v > 0) || (!is_bw && !is_fl))
            continue;
        if (t == threads)
            *(is_bw ? &exact.gbps : &exact.gflops) = v;
        double *slot_best = is_bw ? &best.gbps : &best.gflops;
        if (v > *slot_best) {
            *slot_best = v;
            best.threads = t;
        }
    }
    json_decref(latest);
    return exact.gbps > 0 && exact.gflops > 0 ? exact : best;
}

/* "kernel=gemm size=512" from the canonical JSON, threads left out (own column). */
static void rep_params(const char *params_json, char *buf, size_t cap)
{
    json_t *obj = json_loads(params_json, 0, NULL);
    size_t used = 0;
    buf[0] = '\0';
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        if (strcmp(key, "threads") == 0 || used >= cap)
            continue;
        char val[64];
        if (json_is_string(v))
            snprintf(val, sizeof val, "%s", json_string_value(v));
        else
            snprintf(val, sizeof val, "%lld", (long long)json_integer_value(v));
        used += (size_t)snprintf(buf + used, cap - used, "%s%s=%s", used ? " " : "", key, val);
    }
    json_decref(obj);
}

static void rep_roofline_line(const json_t *platform, FILE *out)
{
    fprintf(out, "Roofline (the latest probe figures, measured):");
    json_t *latest = report_latest_probes(platform);
    size_t i;
    json_t *p;
    int any = 0;
    json_array_foreach(latest, i, p) {
        const char *kind = report_str(p, "kind");
        int bw = strcmp(kind, "triad_gbps") == 0;
        fprintf(out, "%s %s %lld thr %.1f %s", any ? ";" : "", bw ? "triad" : "fma",
                json_integer_value(json_object_get(p, "threads")), report_num(p, "value"),
                bw ? "GB/s" : "GFLOP/s");
        any = 1;
    }
    json_decref(latest);
    fprintf(out, any ? ".\n\n" : " not measured on this platform (ctxbench platform --probe); "
                                 "roofline columns are left empty.\n\n");
}

static void rep_provenance(const json_t *group, const json_t *platform, FILE *out)
{
    fprintf(out, "Platform `%.16s`: %s %s, %lld cores / %lld PUs, widest SIMD %s, %s %s.  \n",
            report_str(platform, "fingerprint"), report_str(platform, "cpu_vendor"),
            report_str(platform, "cpu_model"), json_integer_value(json_object_get(platform, "n_cores")),
            json_integer_value(json_object_get(platform, "n_pus")), report_str(platform, "simd_best"),
            report_str(platform, "os"), report_str(platform, "kernel"));
    fprintf(out, "Scale %s; source revision `%.12s`%s; built with %s %s.  \n", report_str(group, "scale"),
            report_str(group, "revision"),
            json_integer_value(json_object_get(group, "dirty")) == 1 ? " (dirty tree)" : "",
            report_str(group, "compiler"), report_str(group, "cflags"));
    fprintf(out, "Runs:");
    size_t i;
    json_t *run;
    json_array_foreach(json_object_get(group, "runs"), i, run)
        fprintf(out, "%s `%s` (%s, %s)", i ? "," : "", report_str(run, "uuid"), report_str(run, "status"),
                report_str(run, "started_at"));
    fprintf(out, ".\n\n");
}

static void rep_row(const json_t *platform, const json_t *m, FILE *out)
{
    char params[256], med[32], lo[32], hi[32], cv[32], gf[32], gb[32], ai[32], bound[16], pct[16];
    double median = report_num(m, "median_s"), flops = report_num(m, "flops"), bytes = report_num(m, "bytes");
    rep_params(report_str(m, "params_json"), params, sizeof params);
    report_time(median, med, sizeof med);
    report_time(report_num(m, "ci_lo_s"), lo, sizeof lo);
    report_time(report_num(m, "ci_hi_s"), hi, sizeof hi);
    report_value(100 * report_num(m, "cv"), "%.1f%%", cv, sizeof cv);
    report_value(flops / median / 1e9, "%.2f", gf, sizeof gf);
    report_value(bytes / median / 1e9, "%.2f", gb, sizeof gb);
    report_value(flops / bytes, "%.3g", ai, sizeof ai);
    report_bound(platform, m, bound, sizeof bound, pct, sizeof pct);
    fprintf(out, "| %s | %s | %s | %lld | %s | %s – %s | %s | %lld | %s | %s | %s | %s | %s |\n",
            report_str(m, "subject"), report_str(m, "impl"), params,
            json_integer_value(json_object_get(m, "threads")), med, lo, hi, cv,
            json_integer_value(json_object_get(m, "reps")), gf, gb, ai, bound, pct);
}

static int rep_group(const json_t *group, FILE *out, cb_err *err)
{
    const json_t *platform = json_object_get(group, "platform");
    fprintf(out, "## %s\n\n", report_str(group, "experiment"));
    rep_provenance(group, platform, out);
    rep_roofline_line(platform, out);
    if (report_is_operator_sweep(group)) {
        if (report_operators_section(group, out, err) != 0)
            return -1;
        fprintf(out, "### Every point\n\n");
    } else if (report_is_models_sweep(group)) {
        if (report_architectures_section(group, out, err) != 0)
            return -1;
        fprintf(out, "### Every point\n\n");
    }
    fprintf(out, "| subject | impl | parameters | threads | median | 95%% CI of median | CV | reps | "
                 "GFLOP/s | GB/s | flop/B | bound | %% of roofline |\n");
    fprintf(out, "|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|---|--:|\n");
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(group, "measurements"), i, m)
        rep_row(platform, m, out);
    fprintf(out, "\nTimes are per repetition.  GFLOP/s, GB/s and the roofline columns are derived "
                 "from the stored median, FLOP and byte counts and the platform's probe figures at "
                 "the same thread count; the bandwidth ceiling is main memory's (STREAM triad), so "
                 "a working set that stays in cache can exceed 100%%.\n\n");
    return 0;
}

int report_markdown(store *s, const char *experiment, FILE *out, cb_err *err)
{
    json_t *groups = store_latest_runs_json(s, experiment, err);
    if (!groups)
        return -1;
    int rc = 0;
    if (json_array_size(groups) == 0) {
        rc = experiment ? cb_fail(err, "report: no results for experiment '%s'", experiment)
                        : cb_fail(err, "report: the database holds no results yet (run `make` or "
                                       "ctxbench run experiments/NAME.ini)");
    } else {
        fprintf(out, "# ctxbench report\n\n");
        size_t i;
        json_t *g;
        json_array_foreach(groups, i, g) {
            if (rep_group(g, out, err) != 0) {
                rc = -1;
                break;
            }
        }
    }
    json_decref(groups);
    if (rc == 0 && ferror(out))
        rc = cb_fail(err, "report: cannot write the report");
    return rc;
}
