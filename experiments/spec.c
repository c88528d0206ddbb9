/* experiments/spec.c — reads, validates and expands experiment files (see spec.h).
 *
 * Parsing is in two passes: inih hands us every key with the line it is on (our
 * reader counts lines), and we keep them as entries; then validation looks at
 * the entries with the runner's parameter list in hand, so every complaint can
 * name the file and line.  Never: no database, no printing. */
#include "experiments/spec.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/text.h"

#define SPEC_MAX_POINTS 100000
#define SPEC_MAX_LIST 100000

/* One "key = value" line of the file. */
typedef struct spec_entry {
    char section[32];
    char key[64];
    char *value;
    int line;
} spec_entry;

/* What the inih callbacks share while the file is read. */
typedef struct spec_reader {
    const char *path;
    const char *next;          /* the text not yet handed to inih */
    int line;                  /* number of the line inih is handling */
    int indented;              /* that line starts with white space (a continuation) */
    int long_line;             /* first line longer than inih accepts, 0 if none */
    spec_entry *entries;
    int n_entries, cap_entries;
    cb_err *err;
    int failed;                /* the first error is kept in err */
} spec_reader;

static const char *const spec_sections[] = {"experiment", "sweep", "quick", "full", NULL};
static const char *const spec_control_keys[] = {"repetitions", "warmups", "min_time", "max_time",
                                                "max_reps", NULL};
static const char *const spec_experiment_keys[] = {"name", "title", "runner", "order", "seed",
                                                   "flush_cache", "counters", NULL};

static int spec_in_list(const char *word, const char *const *list)
{
    for (int i = 0; list[i]; i++)
        if (strcmp(word, list[i]) == 0)
            return 1;
    return 0;
}

/* ---- pass 1: collect the entries ------------------------------------------------ */

/* inih's line reader over our in-memory text; counts lines and refuses lines
 * longer than inih's buffer instead of letting it split them. */
static char *spec_read_line(char *buf, int cap, void *stream)
{
    spec_reader *rd = stream;
    if (*rd->next == '\0')
        return NULL;
    rd->line++;
    rd->indented = *rd->next == ' ' || *rd->next == '\t';
    const char *end = strchr(rd->next, '\n');
    size_t len = end ? (size_t)(end - rd->next) + 1 : strlen(rd->next);
    if (len > (size_t)cap - 1) {
        if (!rd->long_line)
            rd->long_line = rd->line;
        len = 0; /* hand inih an empty line; the error is reported after */
    }
    memcpy(buf, rd->next, len);
    buf[len] = '\0';
    rd->next += end ? (size_t)(end - rd->next) + 1 : strlen(rd->next);
    return buf;
}

static int spec_reader_fail(spec_reader *rd, const char *fmt, const char *a, const char *b)
{
    if (!rd->failed) {
        char what[512];
        snprintf(what, sizeof what, fmt, a, b);
        cb_fail(rd->err, "%s:%d: %s", rd->path, rd->line, what);
        rd->failed = 1;
    }
    return 0;
}

/* An indented line continues the list of the key above it: joined with a
 * comma, so "a, b," + "c" and "a, b" + "c" both give the items a, b, c. */
static int spec_continue(spec_reader *rd, spec_entry *e, const char *more)
{
    size_t len = strlen(e->value), extra = strlen(more);
    char *joined = realloc(e->value, len + extra + 2);
    if (!joined)
        return spec_reader_fail(rd, "out of memory%s%s", "", "");
    joined[len] = ',';
    memcpy(joined + len + 1, more, extra + 1);
    e->value = joined;
    return 1;
}

static int spec_on_key(void *user, const char *section, const char *key, const char *value)
{
    spec_reader *rd = user;
    spec_entry *last = rd->n_entries ? &rd->entries[rd->n_entries - 1] : NULL;
    if (rd->indented && last && strcmp(last->section, section) == 0 && strcmp(last->key, key) == 0)
        return spec_continue(rd, last, value);
    if (!*section)
        return spec_reader_fail(rd, "key '%s' is outside any section%s", key, "");
    if (!spec_in_list(section, spec_sections))
        return spec_reader_fail(rd, "unknown section [%s]%s (expected experiment, sweep, quick or full)",
                                section, "");
    for (int i = 0; i < rd->n_entries; i++) {
        spec_entry *e = &rd->entries[i];
        if (strcmp(e->section, section) == 0 && strcmp(e->key, key) == 0) {
            char first[32];
            snprintf(first, sizeof first, "%d", e->line);
            return spec_reader_fail(rd, "duplicate key '%s' (first on line %s)", key, first);
        }
    }
    if (strlen(key) >= sizeof rd->entries[0].key)
        return spec_reader_fail(rd, "key '%.40s...' is too long%s", key, "");
    if (rd->n_entries == rd->cap_entries) {
        int cap = rd->cap_entries ? 2 * rd->cap_entries : 32;
        spec_entry *bigger = realloc(rd->entries, (size_t)cap * sizeof *bigger);
        if (!bigger)
            return spec_reader_fail(rd, "out of memory%s%s", "", "");
        rd->entries = bigger;
        rd->cap_entries = cap;
    }
    spec_entry *e = &rd->entries[rd->n_entries];
    cb_strlcpy(e->section, section, sizeof e->section);
    cb_strlcpy(e->key, key, sizeof e->key);
    e->value = strdup(value);
    e->line = rd->line;
    if (!e->value)
        return spec_reader_fail(rd, "out of memory%s%s", "", "");
    rd->n_entries++;
    return 1;
}

static void spec_entries_free(spec_reader *rd)
{
    for (int i = 0; i < rd->n_entries; i++)
        free(rd->entries[i].value);
    free(rd->entries);
}

static int spec_collect(spec_reader *rd, const char *text)
{
    rd->next = text;
    int bad_line = ini_parse_stream(spec_read_line, rd, spec_on_key, rd);
    if (rd->failed)
        return -1;
    if (rd->long_line)
        return cb_fail(rd->err, "%s:%d: line too long (at most %d characters)", rd->path,
                       rd->long_line, INI_MAX_LINE - 2);
    if (bad_line > 0)
        return cb_fail(rd->err, "%s:%d: expected '[section]' or 'key = value'", rd->path, bad_line);
    if (bad_line < 0)
        return cb_fail(rd->err, "%s: cannot parse the file (out of memory)", rd->path);
    return 0;
}

static const spec_entry *spec_find(const spec_reader *rd, const char *section, const char *key)
{
    for (int i = 0; i < rd->n_entries; i++)
        if (strcmp(rd->entries[i].section, section) == 0 && strcmp(rd->entries[i].key, key) == 0)
            return &rd->entries[i];
    return NULL;
}

/* ---- value lists ----------------------------------------------------------------- */

static int spec_parse_int(const char *s, int ncores, int64_t *out)
{
    while (isspace((unsigned char)*s))
        s++;
    if (strncmp(s, "ncores", 6) == 0) {
        const char *rest = s + 6;
        while (isspace((unsigned char)*rest))
            rest++;
        if (*rest)
            return -1;
        *out = ncores;
        return 0;
    }
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || errno == ERANGE)
        return -1;
    while (isspace((unsigned char)*end))
        end++;
    if (*end)
        return -1;
    *out = v;
    return 0;
}

static int spec_push(int64_t **list, int *n, int *cap, int64_t v, cb_err *err)
{
    if (*n >= SPEC_MAX_LIST)
        return cb_fail(err, "more than %d values", SPEC_MAX_LIST);
    if (*n == *cap) {
        int bigger_cap = *cap ? 2 * *cap : 16;
        int64_t *bigger = realloc(*list, (size_t)bigger_cap * sizeof *bigger);
        if (!bigger)
            return cb_fail(err, "out of memory");
        *list = bigger;
        *cap = bigger_cap;
    }
    (*list)[(*n)++] = v;
    return 0;
}

/* Expands "a..b", "a..b +k" or "a..b xk" (item holds no comma). */
static int spec_expand_range(char *item, const char *dots, int ncores, int64_t **list, int *n,
                             int *cap, cb_err *err)
{
    char lo_text[64], hi_text[128];
    size_t lo_len = (size_t)(dots - item);
    if (lo_len >= sizeof lo_text || strlen(dots + 2) >= sizeof hi_text)
        return cb_fail(err, "malformed range '%s'", item);
    memcpy(lo_text, item, lo_len);
    lo_text[lo_len] = '\0';
    cb_strlcpy(hi_text, dots + 2, sizeof hi_text);
    char step_kind = '+';
    int64_t lo, hi, step = 1;
    char *space = strpbrk(cb_trim(hi_text), " \t");
    if (space) {
        *space = '\0';
        char *step_text = cb_trim(space + 1);
        step_kind = step_text[0];
        if ((step_kind != 'x' && step_kind != '+') ||
            spec_parse_int(step_text + 1, ncores, &step) != 0)
            return cb_fail(err, "malformed step in range '%s' (expected '+K' or 'xK')", item);
    }
    if (spec_parse_int(lo_text, ncores, &lo) != 0 || spec_parse_int(hi_text, ncores, &hi) != 0)
        return cb_fail(err, "malformed range '%s' (expected A..B, A..B +K or A..B xK)", item);
    if (lo > hi)
        return cb_fail(err, "range '%s' is empty: %lld > %lld", item, (long long)lo, (long long)hi);
    if ((step_kind == '+' && step < 1) || (step_kind == 'x' && (step < 2 || lo < 1)))
        return cb_fail(err, "range '%s' never advances (a '+' step must be >= 1, an 'x' step "
                            ">= 2 from a start >= 1)", item);
    for (int64_t v = lo;;) {
        if (spec_push(list, n, cap, v, err) != 0)
            return -1;
        if (step_kind == '+' ? v > hi - step : v > hi / step)
            break;
        v = step_kind == '+' ? v + step : v * step;
        if (v > hi)
            break;
    }
    return 0;
}

int exp_parse_int_list(const char *text, int ncores, int64_t **out, cb_err *err)
{
    char *copy = strdup(text);
    int64_t *list = NULL;
    int n = 0, cap = 0;
    if (!copy)
        return cb_fail(err, "out of memory");
    char *save = NULL;
    for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        cb_trim(item);
        const char *dots = strstr(item, "..");
        int64_t v;
        if (dots) {
            if (spec_expand_range(item, dots, ncores, &list, &n, &cap, err) != 0)
                goto fail;
        } else if (spec_parse_int(item, ncores, &v) != 0) {
            cb_fail(err, "'%s' is not an integer, 'ncores' or a range", item);
            goto fail;
        } else if (spec_push(&list, &n, &cap, v, err) != 0) {
            goto fail;
        }
    }
    free(copy);
    *out = list;
    return n;
fail:
    free(copy);
    free(list);
    return -1;
}

/* ---- pass 2: validation ------------------------------------------------------------ */

static int spec_runner_param(const exp_runner *r, const char *key)
{
    for (int i = 0; i < r->n_params; i++)
        if (strcmp(r->params[i].name, key) == 0)
            return i;
    return -1;
}

static int spec_check_keys(const spec_reader *rd, const exp_runner *r, cb_err *err)
{
    for (int i = 0; i < rd->n_entries; i++) {
        const spec_entry *e = &rd->entries[i];
        int ok;
        if (strcmp(e->section, "experiment") == 0)
            ok = spec_in_list(e->key, spec_experiment_keys) || spec_in_list(e->key, spec_control_keys);
        else if (strcmp(e->section, "sweep") == 0)
            ok = spec_runner_param(r, e->key) >= 0;
        else
            ok = spec_runner_param(r, e->key) >= 0 || spec_in_list(e->key, spec_control_keys);
        if (!ok)
            return cb_fail(err, "%s:%d: unknown key '%s' in [%s]%s%s", rd->path, e->line, e->key,
                           e->section, strcmp(e->section, "experiment") ? " for runner " : "",
                           strcmp(e->section, "experiment") ? r->name : "");
    }
    return 0;
}

/* The entry that decides a key at this scale: [scale] first, then the base section. */
static const spec_entry *spec_effective(const spec_reader *rd, const char *base, const char *scale,
                                        const char *key)
{
    const spec_entry *e = spec_find(rd, scale, key);
    return e ? e : spec_find(rd, base, key);
}

static int spec_number(const spec_reader *rd, const spec_entry *e, double lo, double hi, double *out,
                       cb_err *err)
{
    char *end;
    errno = 0;
    double v = strtod(e->value, &end);
    while (isspace((unsigned char)*end))
        end++;
    if (end == e->value || *end || errno == ERANGE || !isfinite(v) || v < lo || v > hi)
        return cb_fail(err, "%s:%d: %s = '%s': expected a number from %g to %g", rd->path, e->line,
                       e->key, e->value, lo, hi);
    *out = v;
    return 0;
}

static int spec_bool(const spec_reader *rd, const spec_entry *e, int *out, cb_err *err)
{
    static const char *const yes[] = {"yes", "true", "on", "1", NULL};
    static const char *const no[] = {"no", "false", "off", "0", NULL};
    if (spec_in_list(e->value, yes))
        *out = 1;
    else if (spec_in_list(e->value, no))
        *out = 0;
    else
        return cb_fail(err, "%s:%d: %s = '%s': expected yes or no", rd->path, e->line, e->key,
                       e->value);
    return 0;
}

/* Run control: [experiment] keys, overridden per scale. */
static int spec_control(const spec_reader *rd, exp_spec *spec, cb_err *err)
{
    static const struct { const char *key; double lo, hi; } limits[] = {
        {"repetitions", 1, 1e6}, {"warmups", 0, 1e6}, {"min_time", 0, 3600},
        {"max_time", 0.001, 86400}, {"max_reps", 1, 1e7},
    };
    double v[5];
    meas_opts *m = &spec->meas;
    meas_opts_default(m);
    double defaults[5] = {m->min_reps, m->warmups, m->min_time_s, m->max_time_s, m->max_reps};
    for (int i = 0; i < 5; i++) {
        const spec_entry *e = spec_effective(rd, "experiment", spec->scale, limits[i].key);
        v[i] = defaults[i];
        if (e && spec_number(rd, e, limits[i].lo, limits[i].hi, &v[i], err) != 0)
            return -1;
    }
    m->min_reps = (int)v[0];
    m->warmups = (int)v[1];
    m->min_time_s = v[2];
    m->max_time_s = v[3];
    m->max_reps = (int)v[4];
    if (m->max_reps < m->min_reps)
        m->max_reps = m->min_reps;
    if (m->min_time_s > m->max_time_s) {
        const spec_entry *e = spec_effective(rd, "experiment", spec->scale, "min_time");
        return cb_fail(err, "%s:%d: min_time = %g is longer than max_time = %g", rd->path,
                       e ? e->line : 0, m->min_time_s, m->max_time_s);
    }
    const spec_entry *e;
    if ((e = spec_find(rd, "experiment", "flush_cache")) && spec_bool(rd, e, &m->flush_cache, err))
        return -1;
    m->counters = 1;
    if ((e = spec_find(rd, "experiment", "counters")) && spec_bool(rd, e, &m->counters, err))
        return -1;
    if ((e = spec_find(rd, "experiment", "order"))) {
        if (strcmp(e->value, "shuffled") != 0 && strcmp(e->value, "sequential") != 0)
            return cb_fail(err, "%s:%d: order = '%s': expected sequential or shuffled", rd->path,
                           e->line, e->value);
        spec->shuffled = strcmp(e->value, "shuffled") == 0;
    }
    spec->seed = 1;
    if ((e = spec_find(rd, "experiment", "seed"))) {
        int64_t seed;
        if (spec_parse_int(e->value, 0, &seed) != 0 || seed < 0)
            return cb_fail(err, "%s:%d: seed = '%s': expected a non-negative integer", rd->path,
                           e->line, e->value);
        spec->seed = (uint64_t)seed;
    }
    return 0;
}

static int spec_identity(const spec_reader *rd, exp_spec *spec, cb_err *err)
{
    const spec_entry *name = spec_find(rd, "experiment", "name");
    const spec_entry *runner = spec_find(rd, "experiment", "runner");
    const spec_entry *title = spec_find(rd, "experiment", "title");
    if (!name || !runner)
        return cb_fail(err, "%s: [experiment] needs both 'name' and 'runner'", rd->path);
    size_t len = strlen(name->value);
    if (len == 0 || len >= sizeof spec->name || strspn(name->value, "abcdefghijklmnopqrstuvwxyz"
                                                       "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != len)
        return cb_fail(err, "%s:%d: name = '%s': use 1 to %zu letters, digits, '_' or '-'",
                       rd->path, name->line, name->value, sizeof spec->name - 1);
    cb_strlcpy(spec->name, name->value, sizeof spec->name);
    cb_strlcpy(spec->title, title ? title->value : name->value, sizeof spec->title);
    spec->runner = exp_runner_find(runner->value);
    if (!spec->runner)
        return cb_fail(err, "%s:%d: unknown runner '%s'", rd->path, runner->line, runner->value);
    return 0;
}

/* The values of one parameter at this scale: a list of integers or word indices. */
typedef struct spec_axis {
    int n;
    int64_t *ival;            /* EXP_INT */
    const char **sval;        /* EXP_WORD */
} spec_axis;

static int spec_word_axis(const exp_param *p, const char *text, spec_axis *ax, cb_err *err)
{
    char *copy = strdup(text);
    int cap = 1;
    for (const char *c = text; *c; c++)
        cap += *c == ',';
    ax->sval = calloc((size_t)cap, sizeof *ax->sval);
    if (!copy || !ax->sval) {
        free(copy);
        return cb_fail(err, "out of memory");
    }
    char *save = NULL;
    for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        cb_trim(item);
        const char *const *allowed = p->allowed ? p->allowed : p->allowed_fn ? p->allowed_fn() : NULL;
        int found = -1;
        for (int i = 0; allowed && allowed[i]; i++)
            if (strcmp(item, allowed[i]) == 0)
                found = i;
        if (found < 0) {
            cb_fail(err, "unknown %s '%s'", p->name, item);
            free(copy);
            return -1;
        }
        ax->sval[ax->n++] = allowed[found];
    }
    free(copy);
    return 0;
}

static int spec_int_axis(const exp_param *p, const char *text, int ncores, spec_axis *ax,
                         cb_err *err)
{
    int n = exp_parse_int_list(text, ncores, &ax->ival, err);
    if (n < 0)
        return -1;
    ax->n = n;
    for (int i = 0; i < n; i++)
        if (ax->ival[i] < p->min || ax->ival[i] > p->max)
            return cb_fail(err, "%s = %lld is out of range (%lld to %lld)", p->name,
                           (long long)ax->ival[i], (long long)p->min, (long long)p->max);
    return 0;
}

static int spec_axis_load(const spec_reader *rd, const exp_spec *spec, const exp_param *p, int ncores,
                          spec_axis *ax, cb_err *err)
{
    const spec_entry *e = spec_effective(rd, "sweep", spec->scale, p->name);
    const char *text = e ? e->value : p->def;
    int rc = p->type == EXP_INT ? spec_int_axis(p, text, ncores, ax, err)
                                : spec_word_axis(p, text, ax, err);
    if (rc == 0 && ax->n == 0)
        rc = cb_fail(err, "empty sweep: '%s' has no values", p->name);
    if (rc != 0) {
        if (e)
            return cb_wrap(err, "%s:%d", rd->path, e->line);
        return cb_wrap(err, "%s: runner %s's default for '%s'", rd->path, spec->runner->name, p->name);
    }
    return 0;
}

/* The point's identity: its parameters that matter, as canonical JSON. */
static int spec_point_json(const exp_runner *r, exp_point *pt, cb_err *err)
{
    json_t *obj = json_object();
    for (int i = 0; obj && i < r->n_params; i++) {
        if (r->param_used && !r->param_used(r, pt, i))
            continue;
        json_object_set_new(obj, r->params[i].name, r->params[i].type == EXP_INT
                                                         ? json_integer(pt->ival[i])
                                                         : json_string(pt->sval[i]));
    }
    char *text = obj ? json_dumps(obj, JSON_SORT_KEYS | JSON_COMPACT) : NULL;
    json_decref(obj);
    if (!text)
        return cb_fail(err, "out of memory");
    int fits = strlen(text) < sizeof pt->params_json;
    if (fits) {
        cb_strlcpy(pt->params_json, text, sizeof pt->params_json);
        cb_sha256_hex(text, strlen(text), pt->params_hash);
    }
    free(text);
    return fits ? 0 : cb_fail(err, "a point's parameters are too long to record");
}

/* 1 if an earlier point has the same identity (a parameter that does not
 * matter made a duplicate): among the kept points [0, n) or the points left
 * out as inapplicable, which are kept at the tail [cap - n_inapplicable, cap). */
static int spec_is_duplicate(const exp_spec *spec, int n, int cap, const exp_point *pt)
{
    for (int i = 0; i < n; i++)
        if (strcmp(spec->points[i].params_hash, pt->params_hash) == 0)
            return 1;
    for (int i = cap - spec->n_inapplicable; i < cap; i++)
        if (strcmp(spec->points[i].params_hash, pt->params_hash) == 0)
            return 1;
    return 0;
}

/* Keeps the point (returns 1) unless it duplicates one or the runner cannot
 * run it; an inapplicable point moves to the tail and is counted, with the
 * first reason kept. */
static int spec_keep(exp_spec *spec, int n, int cap, exp_point *pt)
{
    const exp_runner *r = spec->runner;
    char why[200];
    if (r->param_used && spec_is_duplicate(spec, n, cap, pt))
        return 0;
    if (r->applicable && !r->applicable(r, pt, why, sizeof why)) {
        if (spec->n_inapplicable == 0)
            snprintf(spec->inapplicable_why, sizeof spec->inapplicable_why, "%s: %s",
                     pt->params_json, why);
        spec->n_inapplicable++;
        spec->points[cap - spec->n_inapplicable] = *pt;
        return 0;
    }
    return 1;
}

/* The cartesian product of the axes, last parameter fastest. */
static int spec_expand(exp_spec *spec, const spec_axis *axes, cb_err *err)
{
    const exp_runner *r = spec->runner;
    long long total = 1;
    for (int i = 0; i < r->n_params; i++) {
        total *= axes[i].n;
        if (total > SPEC_MAX_POINTS)
            return cb_fail(err, "%s: the sweep has more than %d points", spec->path, SPEC_MAX_POINTS);
    }
    spec->points = calloc((size_t)total, sizeof *spec->points);
    if (!spec->points)
        return cb_fail(err, "out of memory");
    int kept = 0;
    for (long long k = 0; k < total; k++) {
        exp_point *pt = &spec->points[kept];
        long long rest = k;
        pt->n = r->n_params;
        for (int i = r->n_params - 1; i >= 0; i--) {
            int idx = (int)(rest % axes[i].n);
            rest /= axes[i].n;
            if (r->params[i].type == EXP_INT)
                pt->ival[i] = axes[i].ival[idx];
            else
                pt->sval[i] = axes[i].sval[idx];
        }
        if (spec_point_json(r, pt, err) != 0)
            return -1;
        kept += spec_keep(spec, kept, (int)total, pt);
    }
    spec->n_points = kept;
    if (kept == 0)
        return cb_fail(err, "%s: empty sweep: the runner can run none of its %lld points (%s)",
                       spec->path, total, spec->inapplicable_why);
    return 0;
}

static uint64_t spec_splitmix(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void spec_shuffle(exp_spec *spec)
{
    uint64_t state = spec->seed;
    for (int i = spec->n_points - 1; i > 0; i--) {
        int j = (int)(spec_splitmix(&state) % (uint64_t)(i + 1));
        exp_point tmp = spec->points[i];
        spec->points[i] = spec->points[j];
        spec->points[j] = tmp;
    }
}

static int spec_build_sweep(const spec_reader *rd, exp_spec *spec, int ncores, cb_err *err)
{
    const exp_runner *r = spec->runner;
    spec_axis axes[EXP_MAX_PARAMS] = {{0}};
    int rc = 0;
    for (int i = 0; rc == 0 && i < r->n_params; i++)
        rc = spec_axis_load(rd, spec, &r->params[i], ncores, &axes[i], err);
    if (rc == 0)
        rc = spec_expand(spec, axes, err);
    for (int i = 0; i < r->n_params; i++) {
        free(axes[i].ival);
        free(axes[i].sval);
    }
    if (rc == 0 && spec->shuffled)
        spec_shuffle(spec);
    return rc;
}

/* Validates and expands spec->text (already read) into spec. */
static int spec_parse(exp_spec *spec, int ncores, cb_err *err)
{
    spec_reader rd = {.path = spec->path, .err = err};
    cb_sha256_hex(spec->text, strlen(spec->text), spec->config_hash);
    int rc = spec_collect(&rd, spec->text) != 0 || spec_identity(&rd, spec, err) != 0 ||
                     spec_check_keys(&rd, spec->runner, err) != 0 ||
                     spec_control(&rd, spec, err) != 0 || spec_build_sweep(&rd, spec, ncores, err) != 0
                 ? -1
                 : 0;
    spec_entries_free(&rd);
    return rc;
}

static int spec_new(const char *origin, const char *scale, exp_spec **out, cb_err *err)
{
    if (strcmp(scale, "quick") != 0 && strcmp(scale, "full") != 0)
        return cb_fail(err, "scale '%s': expected quick or full", scale);
    exp_spec *spec = calloc(1, sizeof *spec);
    if (!spec || !(spec->path = strdup(origin))) {
        free(spec);
        return cb_fail(err, "out of memory");
    }
    cb_strlcpy(spec->scale, scale, sizeof spec->scale);
    *out = spec;
    return 0;
}

int exp_spec_load(const char *path, const char *scale, int ncores, exp_spec **out, cb_err *err)
{
    exp_spec *spec;
    if (spec_new(path, scale, &spec, err) != 0)
        return -1;
    if (!(spec->text = cb_read_file(path, NULL, err)) || spec_parse(spec, ncores, err) != 0) {
        exp_spec_free(spec);
        return -1;
    }
    *out = spec;
    return 0;
}

int exp_spec_from_text(const char *origin, const char *text, const char *scale, int ncores,
                       exp_spec **out, cb_err *err)
{
    exp_spec *spec;
    if (spec_new(origin, scale, &spec, err) != 0)
        return -1;
    if (!(spec->text = strdup(text))) {
        exp_spec_free(spec);
        return cb_fail(err, "out of memory");
    }
    if (spec_parse(spec, ncores, err) != 0) {
        exp_spec_free(spec);
        return -1;
    }
    *out = spec;
    return 0;
}

void exp_spec_free(exp_spec *spec)
{
    if (!spec)
        return;
    free(spec->path);
    free(spec->text);
    free(spec->points);
    free(spec);
}
