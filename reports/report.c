/* reports/report.c — the report, from the database alone (see report.h).
 *
 * Input is the JSON the store hands out (report_select): one object per
 * (experiment, platform) with its runs' provenance, its measurements and the
 * platform with its probe figures.  Each becomes a document (reports/doc.h):
 * provenance, roofline, the experiment's section and every point; the
 * documents of one experiment's platforms are merged (tables side by side,
 * figures overlaid) and rendered to every format asked for.  Every number
 * printed is either stored or derived here from stored numbers (GFLOP/s =
 * flops / median, GB/s = bytes / median, the roofline from the stored
 * probes); nothing is measured here. */
#include "reports/report.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reports/architectures.h"
#include "reports/doc.h"
#include "reports/format.h"
#include "reports/gnuplot.h"
#include "reports/operators.h"
#include "reports/output.h"
#include "reports/render.h"

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

/* ---- the parts every experiment has ---------------------------------------------------- */

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

static void rep_roofline_text(const json_t *platform, rdoc *doc)
{
    char line[1024] = "";
    size_t used = 0;
    json_t *latest = report_latest_probes(platform);
    size_t i;
    json_t *p;
    json_array_foreach(latest, i, p) {
        int bw = strcmp(report_str(p, "kind"), "triad_gbps") == 0;
        if (used < sizeof line)
            used += (size_t)snprintf(line + used, sizeof line - used, "%s %s %lld thr %.1f %s",
                                     used ? ";" : "", bw ? "triad" : "fma",
                                     json_integer_value(json_object_get(p, "threads")),
                                     report_num(p, "value"), bw ? "GB/s" : "GFLOP/s");
    }
    json_decref(latest);
    if (used)
        rdoc_keyed_text(doc, "roofline", "Roofline (the latest probe figures, measured):%s.", line);
    else
        rdoc_keyed_text(doc, "roofline", "Roofline (the latest probe figures, measured): not "
                                         "measured on this platform (ctxbench platform --probe); "
                                         "roofline columns are left empty.");
}

static void rep_provenance_text(const json_t *group, rdoc *doc)
{
    const json_t *platform = json_object_get(group, "platform");
    char runs[4096] = "";
    size_t used = 0, i;
    json_t *run;
    json_array_foreach(json_object_get(group, "runs"), i, run)
        if (used < sizeof runs)
            used += (size_t)snprintf(runs + used, sizeof runs - used, "%s `%s` (%s, %s)",
                                     i ? "," : "", report_str(run, "uuid"),
                                     report_str(run, "status"), report_str(run, "started_at"));
    rdoc_keyed_text(doc, "provenance",
                    "Platform `%.16s`: %s %s, %lld cores / %lld PUs, widest SIMD %s, %s %s.  "
                    "Scale %s; source revision `%.12s`%s; built with %s %s.  Runs:%s.",
                    report_str(platform, "fingerprint"), report_str(platform, "cpu_vendor"),
                    report_str(platform, "cpu_model"),
                    json_integer_value(json_object_get(platform, "n_cores")),
                    json_integer_value(json_object_get(platform, "n_pus")),
                    report_str(platform, "simd_best"), report_str(platform, "os"),
                    report_str(platform, "kernel"), report_str(group, "scale"),
                    report_str(group, "revision"),
                    json_integer_value(json_object_get(group, "dirty")) == 1 ? " (dirty tree)" : "",
                    report_str(group, "compiler"), report_str(group, "cflags"), runs);
}

/* The roofline verdict of a measurement: "memory"/"compute" and the percent. */
static void rep_bound_cells(const json_t *platform, const json_t *m, rtab *t, int row, int c_bound,
                            int c_pct)
{
    int memory;
    double pct = report_bound(platform, m, &memory);
    if (memory >= 0)
        rtab_text(t, row, c_bound, "%s", memory ? "memory" : "compute");
    rtab_pct(t, row, c_pct, pct);
}

static void rep_every_point(const json_t *group, rdoc *doc)
{
    const json_t *platform = json_object_get(group, "platform");
    rtab *t = rtab_create("points", "Every point");
    if (!t) {
        rdoc_table(doc, NULL, 3);
        return;
    }
    int c_subject = rtab_add_col(t, "subject", "", 0, 1), c_impl = rtab_add_col(t, "impl", "", 0, 1);
    int c_params = rtab_add_col(t, "parameters", "", 0, 1), c_thr = rtab_add_col(t, "threads", "", 0, 1);
    int c_med = rtab_add_col(t, "median", "s", 0, 0), c_cv = rtab_add_col(t, "CV", "%", 1, 0);
    int c_reps = rtab_add_col(t, "reps", "", 0, 0), c_gf = rtab_add_col(t, "compute", "GFLOP/s", 2, 0);
    int c_gb = rtab_add_col(t, "bandwidth", "GB/s", 2, 0), c_ai = rtab_add_col(t, "intensity", "FLOP/B", 2, 0);
    int c_bound = rtab_add_col(t, "bound", "", 0, 0), c_pct = rtab_add_col(t, "of roofline", "%", 0, 0);
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(group, "measurements"), i, m) {
        double median = report_num(m, "median_s"), flops = report_num(m, "flops");
        double bytes = report_num(m, "bytes");
        char params[256];
        int r = rtab_row(t);
        rep_params(report_str(m, "params_json"), params, sizeof params);
        rtab_text(t, r, c_subject, "%s", report_str(m, "subject"));
        rtab_text(t, r, c_impl, "%s", report_str(m, "impl"));
        rtab_text(t, r, c_params, "%s", params);
        rtab_int(t, r, c_thr, json_integer_value(json_object_get(m, "threads")));
        rtab_time(t, r, c_med, median, report_num(m, "ci_lo_s"), report_num(m, "ci_hi_s"));
        rtab_pct(t, r, c_cv, 100 * report_num(m, "cv"));
        rtab_int(t, r, c_reps, json_integer_value(json_object_get(m, "reps")));
        rtab_num(t, r, c_gf, flops > 0 ? flops / median / 1e9 : NAN);
        rtab_num(t, r, c_gb, bytes > 0 ? bytes / median / 1e9 : NAN);
        rtab_num(t, r, c_ai, flops > 0 && bytes > 0 ? flops / bytes : NAN);
        rep_bound_cells(platform, m, t, r, c_bound, c_pct);
    }
    rtab_note(t, "Times are per repetition: the stored median with the stored 95%% CI of the "
                 "median.  GFLOP/s, GB/s and the roofline columns are derived from the stored "
                 "median, FLOP and byte counts and the platform's probe figures at the same "
                 "thread count; the bandwidth ceiling is main memory's (STREAM triad), so a "
                 "working set that stays in cache can exceed 100%%.");
    rdoc_table(doc, t, 3);
}

/* ---- experiment sections ---------------------------------------------------------------- */

/* An experiment section: the first whose test accepts a group's
 * measurements writes its part of the document, before every point. */
typedef struct rep_section {
    int (*accepts)(const json_t *group);
    int (*write)(const json_t *group, rdoc *doc, cb_err *err);
} rep_section;

/* The hook for the sections still to come: issue 8 (speculative decoding:
 * predicted against measured speedup, the prediction stored as a metric with
 * predicted = 1 and drawn as a series labelled "predicted") and issue 9
 * (sparse attention: accuracy against sparsity) add a row here with a
 * section built like reports/operators.c (tables with rtab_*, figures with
 * rfig_*, RFIG_LINES). */
static const rep_section rep_sections[] = {
    {report_is_operator_sweep, report_operators_section},
    {report_is_models_sweep, report_architectures_section},
};

/* The document of one experiment on one platform. */
static rdoc *rep_group_doc(const json_t *group, const rprov *prov, cb_err *err)
{
    rdoc *doc = rdoc_create(prov);
    if (!doc) {
        cb_fail(err, "report: out of memory");
        return NULL;
    }
    rdoc_heading(doc, 2, "%s", report_str(group, "experiment"));
    rep_provenance_text(group, doc);
    rep_roofline_text(json_object_get(group, "platform"), doc);
    for (size_t k = 0; k < sizeof rep_sections / sizeof rep_sections[0]; k++) {
        if (!rep_sections[k].accepts(group))
            continue;
        if (rep_sections[k].write(group, doc, err) != 0) {
            rdoc_free(doc);
            return NULL;
        }
        break;
    }
    rep_every_point(group, doc);
    if (rdoc_check(doc, err) != 0) {
        rdoc_free(doc);
        return NULL;
    }
    return doc;
}

/* The provenance of group i of the experiment groups[first..end): its run
 * joins the label when another group of the experiment has its platform. */
static void rep_prov(const json_t *groups, size_t first, size_t end, size_t i, rprov *p)
{
    const json_t *g = json_array_get(groups, i);
    rprov_from_group(g, p);
    for (size_t j = first; j < end; j++) {
        const json_t *o = json_array_get(groups, j);
        if (j != i && strcmp(report_str(json_object_get(o, "platform"), "fingerprint"),
                             p->fingerprint) == 0) {
            size_t n = strlen(p->label);
            snprintf(p->label + n, sizeof p->label - n, "/%.8s", report_str(g, "uuid"));
            return;
        }
    }
}

/* The merged document of the experiment whose groups are groups[first..end). */
static rdoc *rep_experiment_doc(const json_t *groups, size_t first, size_t end, cb_err *err)
{
    rdoc *merged = NULL;
    for (size_t i = first; i < end; i++) {
        rprov prov;
        rep_prov(groups, first, end, i, &prov);
        rdoc *doc = rep_group_doc(json_array_get(groups, i), &prov, err);
        if (!doc) {
            rdoc_free(merged);
            return NULL;
        }
        if (!merged) {
            merged = doc;
            continue;
        }
        int rc = rdoc_merge(merged, doc);
        rdoc_free(doc);
        if (rc != 0 || rdoc_check(merged, err) != 0) {
            rdoc_free(merged);
            cb_fail(err, "report: out of memory merging platforms");
            return NULL;
        }
    }
    return merged;
}

/* The end of the run of groups of the experiment starting at first. */
static size_t rep_experiment_end(const json_t *groups, size_t first)
{
    size_t end = first + 1;
    const char *name = report_str(json_array_get(groups, first), "experiment");
    while (end < json_array_size(groups) &&
           strcmp(report_str(json_array_get(groups, end), "experiment"), name) == 0)
        end++;
    return end;
}

/* ---- the folder ------------------------------------------------------------------------- */

/* Begins the file at the formatted relative path; NULL when out of memory
 * (the set remembers it and the commit fails). */
static FILE *rep_file(rout *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static FILE *rep_file(rout *o, const char *fmt, ...)
{
    char path[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(path, sizeof path, fmt, ap);
    va_end(ap);
    return rout_begin(o, path);
}

/* A table's files: EXP/tables/ID.csv and EXP/tables/ID.tex. */
static void rep_table_files(rout *o, const char *exp, const rtab *t, unsigned formats)
{
    FILE *f;
    if ((formats & REPORT_CSV) && (f = rep_file(o, "%s/tables/%s.csv", exp, t->id))) {
        rcsv_table(t, f);
        rout_end(o);
    }
    if ((formats & REPORT_TEX) && (f = rep_file(o, "%s/tables/%s.tex", exp, t->id))) {
        rtex_table(t, exp, f);
        rout_end(o);
    }
}

/* A figure's data and script, EXP/figures/ID.dat and .gp, and the script's
 * run (which writes ID.pdf, ID.svg and ID.png beside them). */
static void rep_figure_files(rout *o, const char *exp, const rfig *g)
{
    FILE *f;
    if ((f = rep_file(o, "%s/figures/%s.dat", exp, g->id))) {
        rgp_data(g, f);
        rout_end(o);
    }
    if ((f = rep_file(o, "%s/figures/%s.gp", exp, g->id))) {
        rgp_script(g, f);
        rout_end(o);
    }
    char script[512], names[3][160];
    static const char *const ext[] = {"pdf", "svg", "png"};
    const char *products[4] = {names[0], names[1], names[2], NULL};
    for (int k = 0; k < 3; k++)
        snprintf(names[k], sizeof names[k], "%s.%s", g->id, ext[k]);
    snprintf(script, sizeof script, "%s/figures/%s.gp", exp, g->id);
    rout_script(o, script, products);
}

/* The files of one experiment's folder EXP/ in the output set. */
static void rep_experiment_files(rout *o, const char *exp, const rdoc *doc, unsigned formats,
                                 report_summary *sum)
{
    int figures = (formats & (REPORT_TEX | REPORT_HTML)) != 0, tables = 0;
    rrender_links links = {.figures = figures ? "figures" : NULL, .tables = "tables",
                           .csv = (formats & REPORT_CSV) != 0, .tex = (formats & REPORT_TEX) != 0,
                           .index = (formats & REPORT_HTML) ? "../index.html" : NULL};
    char title[256];
    FILE *f;
    snprintf(title, sizeof title, "ctxbench report: %s", exp);
    for (int i = 0; i < doc->n; i++) {
        if (doc->b[i].table) {
            rep_table_files(o, exp, doc->b[i].table, formats);
            tables++;
        }
        if (doc->b[i].fig && figures) {
            rep_figure_files(o, exp, doc->b[i].fig);
            sum->figures++;
        }
    }
    sum->tables += tables;
    if ((formats & REPORT_CSV) && tables && (f = rep_file(o, "%s/tables/index.csv", exp))) {
        rcsv_index(doc, f);
        rout_end(o);
    }
    if ((formats & REPORT_MD) && (f = rep_file(o, "%s/report.md", exp))) {
        rmd_doc(doc, &links, f);
        rout_end(o);
    }
    if ((formats & REPORT_TEX) && (f = rep_file(o, "%s/report.tex", exp))) {
        rtex_doc(doc, title, &links, f);
        rout_end(o);
    }
    if ((formats & REPORT_HTML) && (f = rep_file(o, "%s/report.html", exp))) {
        rhtml_doc(doc, title, &links, f);
        rout_end(o);
    }
}

/* ---- rendering ------------------------------------------------------------------------- */

/* Renders every experiment of groups: Markdown to `md` (when not NULL; with
 * figure links under EXP/figures when the folder draws them) and each
 * experiment's files into `o` (when not NULL); names[] gets the experiments. */
static int rep_render(const json_t *groups, FILE *md, rout *o, unsigned formats,
                      report_summary *sum, const char **names, cb_err *err)
{
    int figures = o && (formats & (REPORT_TEX | REPORT_HTML));
    if (md)
        fprintf(md, "# ctxbench report\n\n");
    for (size_t first = 0, end; first < json_array_size(groups); first = end) {
        end = rep_experiment_end(groups, first);
        const char *exp = report_str(json_array_get(groups, first), "experiment");
        rdoc *doc = rep_experiment_doc(groups, first, end, err);
        if (!doc)
            return -1;
        char dir[160];
        snprintf(dir, sizeof dir, "%s/figures", exp);
        rrender_links links = {.figures = figures ? dir : NULL};
        if (md)
            rmd_doc(doc, &links, md);
        if (o)
            rep_experiment_files(o, exp, doc, formats, sum);
        names[sum->experiments++] = exp;
        rdoc_free(doc);
    }
    return 0;
}

/* Adds a finished memory buffer as a file of the set. */
static void rep_add_buffer(rout *o, const char *path, const char *data, size_t len)
{
    FILE *f = rout_begin(o, path);
    if (f) {
        fwrite(data, 1, len, f);
        rout_end(o);
    }
}

/* Renders the folder: every experiment's files, the whole Markdown report
 * (report.md) and the index page, then commits them (output.h). */
static int rep_folder(const json_t *groups, const report_options *opt, report_summary *sum,
                      const char **names, cb_err *err)
{
    unsigned formats = opt->formats ? opt->formats : REPORT_ALL;
    char *md_text = NULL;
    size_t md_len = 0;
    rout *o = rout_create();
    FILE *md = (formats & REPORT_MD) ? open_memstream(&md_text, &md_len) : NULL;
    int rc = !o || ((formats & REPORT_MD) && !md) ? cb_fail(err, "report: out of memory")
                                                  : rep_render(groups, md, o, formats, sum, names, err);
    if (md && fclose(md) != 0 && rc == 0)
        rc = cb_fail(err, "report: out of memory");
    if (rc == 0 && md_text)
        rep_add_buffer(o, "report.md", md_text, md_len);
    if (rc == 0 && (formats & REPORT_HTML)) {
        FILE *f = rout_begin(o, "index.html");
        if (f) {
            rhtml_index(names, sum->experiments, f);
            rout_end(o);
        }
    }
    if (rc == 0) {
        rc = rout_commit(o, opt->out_dir, opt->force, &sum->up_to_date, err);
        sum->files = rout_n_files(o) + 3 * rout_n_scripts(o);
    }
    free(md_text);
    rout_free(o);
    return rc;
}

int report_run(store *s, const report_options *o, FILE *out, report_summary *sum, cb_err *err)
{
    report_summary ignored;
    if (!sum)
        sum = &ignored;
    memset(sum, 0, sizeof *sum);
    json_t *groups = report_select(s, o, err);
    if (!groups)
        return -1;
    const char **names = calloc(json_array_size(groups) + 1, sizeof *names);
    int rc;
    if (!names)
        rc = cb_fail(err, "report: out of memory");
    else if (o->out_dir)
        rc = rep_folder(groups, o, sum, names, err);
    else if ((rc = rep_render(groups, out, NULL, 0, sum, names, err)) == 0 && ferror(out))
        rc = cb_fail(err, "report: cannot write the report");
    free(names);
    json_decref(groups);
    return rc;
}

int report_markdown(store *s, const char *experiment, FILE *out, cb_err *err)
{
    report_options o = {.experiments = &experiment, .n_experiments = experiment ? 1 : 0};
    return report_run(s, &o, out, NULL, err);
}

int report_parse_formats(const char *list, unsigned *formats, cb_err *err)
{
    static const struct {
        const char *name;
        unsigned bit;
    } known[] = {{"md", REPORT_MD}, {"tex", REPORT_TEX}, {"csv", REPORT_CSV}, {"html", REPORT_HTML}};
    *formats = 0;
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, ",");
        size_t k = 0;
        while (k < sizeof known / sizeof known[0] &&
               !(strlen(known[k].name) == n && strncmp(known[k].name, p, n) == 0))
            k++;
        if (k == sizeof known / sizeof known[0])
            return cb_fail(err, "report: --format: unknown format '%.*s' (md, tex, csv, html)",
                           (int)n, p);
        *formats |= known[k].bit;
        p += n + (p[n] == ',');
    }
    return *formats ? 0 : cb_fail(err, "report: --format: no format given (md, tex, csv, html)");
}
