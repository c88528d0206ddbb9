/* reports/gnuplot.c — a figure's data file and gnuplot script, and the run
 * of gnuplot (see gnuplot.h).  Never: no shell, no store access. */
#include "reports/gnuplot.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "reports/render.h"
#include "util/text.h"

extern char **environ;

static const char *const rgp_colours[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728",
                                          "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                                          "#bcbd22", "#17becf"};
#define RGP_N_COLOURS ((int)(sizeof rgp_colours / sizeof rgp_colours[0]))
static const int rgp_point_types[] = {7, 5, 9, 13, 11};
#define RGP_N_SOURCES ((int)(sizeof rgp_point_types / sizeof rgp_point_types[0]))

/* ---- the data file -------------------------------------------------------------------- */

/* A string for a data file's double-quoted column (a '"' becomes '\''). */
static void rgp_data_string(const char *s, FILE *out)
{
    fputc('"', out);
    for (; *s; s++)
        fputc(*s == '"' ? '\'' : *s, out);
    fputc('"', out);
}

/* The label of a series, with its platform when the figure has several. */
static void rgp_series_title(const rfig *f, const rfig_series *s, char *buf, size_t cap)
{
    if (f->n_prov > 1)
        snprintf(buf, cap, "%s (%s)", s->label, f->prov[s->source].label);
    else
        snprintf(buf, cap, "%s", s->label);
}

static void rgp_number(double v, FILE *out)
{
    if (isfinite(v))
        fprintf(out, "%.9g", v);
    else
        fputs("NaN", out);
}

/* The height of component (series) k in bar b, NAN when not given. */
static double rgp_stack_value(const rfig *f, int k, int b)
{
    const rfig_series *s = &f->series[k];
    for (int i = 0; i < s->n; i++)
        if ((int)s->p[i].x == b)
            return s->p[i].y;
    return NAN;
}

static void rgp_data_stacked(const rfig *f, FILE *out)
{
    fputs("# bar", out);
    for (int k = 0; k < f->n_series; k++)
        fprintf(out, " | %s", f->series[k].label);
    fputc('\n', out);
    for (int b = 0; b < f->n_bars; b++) {
        if (b > 0 && strcmp(f->bars[b].group, f->bars[b - 1].group) != 0)
            fputs("\n\n", out);
        if (b == 0 || strcmp(f->bars[b].group, f->bars[b - 1].group) != 0)
            fprintf(out, "# group: %s\n", f->bars[b].group);
        rgp_data_string(f->bars[b].label, out);
        for (int k = 0; k < f->n_series; k++) {
            fputc(' ', out);
            rgp_number(rgp_stack_value(f, k, b), out);
        }
        fputc('\n', out);
    }
}

void rgp_data(const rfig *f, FILE *out)
{
    char prov[4096];
    rrender_prov(f->prov, f->n_prov, 1, prov, sizeof prov);
    fprintf(out, "# ctxbench figure %s: %s\n# Source: %s.\n", f->id, f->title, prov);
    if (f->kind == RFIG_STACKED) {
        rgp_data_stacked(f, out);
        return;
    }
    for (int i = 0; i < f->n_series; i++) {
        char title[256];
        rgp_series_title(f, &f->series[i], title, sizeof title);
        fprintf(out, "%s# [%d] %s\n# x y y_low y_high\n", i ? "\n\n" : "", i, title);
        for (int k = 0; k < f->series[i].n; k++) {
            const rfig_point *p = &f->series[i].p[k];
            int ci = isfinite(p->lo);
            fprintf(out, "%.9g %.9g ", p->x, p->y);
            /* no interval: the bar collapses onto the point */
            rgp_number(ci ? p->lo : p->y, out);
            fputc(' ', out);
            rgp_number(ci ? p->hi : p->y, out);
            fputc('\n', out);
        }
    }
}

/* ---- the script ----------------------------------------------------------------------- */

/* A gnuplot single-quoted string (a quote is doubled). */
static void rgp_string(const char *s, FILE *out)
{
    fputc('\'', out);
    for (; *s; s++) {
        if (*s == '\'')
            fputc('\'', out);
        fputc(*s == '\n' ? ' ' : *s, out);
    }
    fputc('\'', out);
}

/* The index of a series' label in the order labels first appear: its
 * colour, and (past the palette) its point type too. */
static int rgp_label_index(const rfig *f, const char *label)
{
    int distinct = 0;
    for (int i = 0; i < f->n_series; i++) {
        int first = 1;
        for (int j = 0; j < i && first; j++)
            first = strcmp(f->series[j].label, f->series[i].label) != 0;
        if (strcmp(f->series[i].label, label) == 0)
            return distinct;
        distinct += first;
    }
    return 0;
}

static int rgp_has_ci(const rfig_series *s)
{
    for (int k = 0; k < s->n; k++)
        if (isfinite(s->p[k].lo))
            return 1;
    return 0;
}

static void rgp_header(const rfig *f, FILE *out)
{
    char prov[4096];
    rrender_prov(f->prov, f->n_prov, 1, prov, sizeof prov);
    fprintf(out, "# ctxbench figure %s: %s\n# Source: %s.\n"
                 "# Written by `ctxbench report` from the results database.  Restyle freely and\n"
                 "# run `gnuplot %s.gp` in this folder to redraw %s.pdf, %s.svg and %s.png.\n"
                 "set encoding utf8\n"
                 "set terminal pdfcairo noenhanced size 16cm,10cm font 'Sans,8'\n"
                 "set output '%s.pdf'\n",
            f->id, f->title, prov, f->id, f->id, f->id, f->id, f->id);
    fputs("set title ", out);
    rgp_string(f->title, out);
    fputs("\nset xlabel ", out);
    rgp_string(f->xlabel, out);
    fputs("\nset ylabel ", out);
    rgp_string(f->ylabel, out);
    fputs("\nset grid\nset key outside right top font ',7' spacing 1.1\n", out);
    if (f->logx)
        fputs(f->kind == RFIG_LINES ? "set logscale x 2\nset format x '%.0f'\n"
                                    : "set logscale x 10\n", out);
    if (f->logy)
        fputs("set logscale y 10\nset format y '%g'\n", out);
}

static void rgp_marks(const rfig *f, FILE *out)
{
    for (int i = 0; i < f->n_marks; i++) {
        const rfig_mark *m = &f->marks[i];
        fprintf(out, "set arrow %d from first %.9g, graph 0 to first %.9g, graph 1 nohead dt %d "
                     "lc rgb '#555555'\nset label %d ",
                i + 1, m->x, m->x, m->source % RGP_N_SOURCES + 2, i + 1);
        char label[512];
        if (f->n_prov > 1) /* overlaid platforms: say whose crossover it is */
            snprintf(label, sizeof label, "%s (%s)", m->label, f->prov[m->source].label);
        else
            snprintf(label, sizeof label, "%s", m->label);
        rgp_string(label, out);
        fprintf(out, " at first %.9g, graph 0.03 rotate by 90 left offset -0.6,0 font ',6' "
                     "tc rgb '#444444'\n", m->x);
    }
    if (isfinite(f->ref_y))
        fprintf(out, "set arrow %d from graph 0, first %.9g to graph 1, first %.9g nohead dt 2 "
                     "lc rgb '#000000'\n", f->n_marks + 1, f->ref_y, f->ref_y);
}

/* The plot clause of series i (lines with error bars, or roofline points). */
static void rgp_series_clause(const rfig *f, int i, FILE *out)
{
    const rfig_series *s = &f->series[i];
    char title[256];
    rgp_series_title(f, s, title, sizeof title);
    int ci = rgp_has_ci(s), roof = f->kind == RFIG_ROOFLINE;
    int k = rgp_label_index(f, s->label);
    const char *style = roof ? (ci ? "yerrorbars" : "points") : (ci ? "yerrorlines" : "linespoints");
    fprintf(out, "'%s.dat' index %d using 1:2%s with %s lc rgb '%s' pt %d ps 0.6", f->id, i,
            ci ? ":3:4" : "", style, rgp_colours[k % RGP_N_COLOURS],
            rgp_point_types[(s->source + k / RGP_N_COLOURS) % RGP_N_SOURCES]);
    if (!roof)
        fprintf(out, " dt %d lw 1.4", s->source % RGP_N_SOURCES + 1);
    fputs(" title ", out);
    rgp_string(title, out);
}

/* The ceilings' functions and ranges of a roofline chart. */
static void rgp_roofline_setup(const rfig *f, FILE *out)
{
    double xmin = INFINITY, xmax = 0, ymin = INFINITY, ymax = 0;
    for (int i = 0; i < f->n_series; i++)
        for (int k = 0; k < f->series[i].n; k++) {
            const rfig_point *p = &f->series[i].p[k];
            xmin = fmin(xmin, p->x);
            xmax = fmax(xmax, p->x);
            ymin = fmin(ymin, isfinite(p->lo) ? p->lo : p->y);
            ymax = fmax(ymax, isfinite(p->hi) ? p->hi : p->y);
        }
    for (int c = 0; c < f->n_ceilings; c++) {
        const rfig_ceiling *r = &f->ceilings[c];
        xmax = fmax(xmax, r->gflops / r->gbps);
        ymax = fmax(ymax, r->gflops);
        fprintf(out, "roof%d(x) = x * %.9g < %.9g ? x * %.9g : %.9g\n", c, r->gbps, r->gflops,
                r->gbps, r->gflops);
    }
    fprintf(out, "set xrange [%.9g:%.9g]\nset yrange [%.9g:%.9g]\nset samples 400\n", xmin / 2,
            xmax * 2, ymin / 2, ymax * 2);
}

static void rgp_plot_lines(const rfig *f, FILE *out)
{
    if (f->kind == RFIG_ROOFLINE)
        rgp_roofline_setup(f, out);
    rgp_marks(f, out);
    fputs("plot ", out);
    int any = 0;
    for (int c = 0; f->kind == RFIG_ROOFLINE && c < f->n_ceilings; c++) {
        const rfig_ceiling *r = &f->ceilings[c];
        char title[256];
        snprintf(title, sizeof title, "ceiling %s, %d thread%s: %.1f GB/s, %.1f GFLOP/s",
                 f->prov[r->source].label, r->threads, r->threads == 1 ? "" : "s", r->gbps, r->gflops);
        fprintf(out, "%sroof%d(x) with lines lc rgb '#000000' lw 2 dt %d title ", any++ ? ", \\\n     " : "",
                c, r->source % RGP_N_SOURCES + 1);
        rgp_string(title, out);
    }
    for (int i = 0; i < f->n_series; i++) {
        if (f->series[i].n == 0)
            continue;
        fputs(any++ ? ", \\\n     " : "", out);
        rgp_series_clause(f, i, out);
    }
    fputc('\n', out);
}

static void rgp_plot_stacked(const rfig *f, FILE *out)
{
    fputs("set style data histograms\nset style histogram rowstacked\n"
          "set style fill solid 0.85 border rgb '#333333'\nset boxwidth 0.75 relative\n"
          "set xtics rotate by -45 scale 0 font ',7'\nset yrange [0:*]\nunset logscale\n"
          "set bmargin 7\nplot ", out);
    int block = 0;
    for (int b = 0; b < f->n_bars; b++) {
        if (b > 0 && strcmp(f->bars[b].group, f->bars[b - 1].group) == 0)
            continue;
        fprintf(out, "%snewhistogram ", block ? ", \\\n     " : "");
        rgp_string(f->bars[b].group, out);
        fputs(" font ',7'", out);
        for (int k = 0; k < f->n_series; k++) {
            fprintf(out, ", \\\n       '%s.dat' index %d using %d%s lc rgb '%s' ", f->id, block,
                    k + 2, k == 0 ? ":xtic(1)" : "", rgp_colours[k % RGP_N_COLOURS]);
            if (block == 0) {
                fputs("title ", out);
                rgp_string(f->series[k].label, out);
            } else {
                fputs("notitle", out);
            }
        }
        block++;
    }
    fputc('\n', out);
}

void rgp_script(const rfig *f, FILE *out)
{
    rgp_header(f, out);
    if (f->kind == RFIG_STACKED)
        rgp_plot_stacked(f, out);
    else
        rgp_plot_lines(f, out);
    fprintf(out, "set terminal svg noenhanced size 960,600 dynamic font 'Sans,11' "
                 "background '#ffffff'\nset output '%s.svg'\nreplot\n"
                 "set terminal pngcairo noenhanced size 1280,800 font 'Sans,11'\n"
                 "set output '%s.png'\nreplot\nset output\n",
            f->id, f->id);
}

/* ---- running gnuplot ---------------------------------------------------------------------- */

/* The first lines of gnuplot's complaint, joined into one line. */
static void rgp_complaint(const char *dir, const char *log, char *buf, size_t cap)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, log);
    char *text = cb_read_file(path, NULL, NULL);
    snprintf(buf, cap, "%s", text && text[0] ? text : "(no message)");
    for (char *c = buf; *c; c++)
        if (*c == '\n')
            *c = ' ';
    free(text);
}

/* Starts the program with the file actions; 0 and *pid, or the errno. */
static int rgp_spawn(const char *program, const char *dir, const char *script, const char *log,
                     pid_t *pid)
{
    posix_spawn_file_actions_t fa;
    int rc = posix_spawn_file_actions_init(&fa);
    if (rc != 0)
        return rc;
    if ((rc = posix_spawn_file_actions_addchdir_np(&fa, dir)) == 0 &&
        (rc = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0)) == 0 &&
        (rc = posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0)) == 0 &&
        (rc = posix_spawn_file_actions_addopen(&fa, 2, log, O_WRONLY | O_CREAT | O_TRUNC, 0644)) == 0) {
        char *argv[] = {(char *)program, (char *)script, NULL};
        rc = posix_spawnp(pid, program, &fa, NULL, argv, environ);
    }
    posix_spawn_file_actions_destroy(&fa);
    return rc;
}

int rgp_run(const char *dir, const char *script, cb_err *err)
{
    const char *program = getenv("CTXBENCH_GNUPLOT");
    if (!program || !program[0])
        program = "gnuplot";
    char log[512];
    snprintf(log, sizeof log, "%s.log", script);
    pid_t pid;
    int rc = rgp_spawn(program, dir, script, log, &pid);
    if (rc == ENOENT)
        return cb_fail(err, "report: %s/%s: cannot draw the figure: %s is not installed (Debian: "
                            "apt-get install gnuplot-nox, or `make deps`); --format md,csv writes "
                            "no figures", dir, script, program);
    if (rc != 0)
        return cb_fail(err, "report: %s/%s: cannot start %s: %s", dir, script, program, strerror(rc));
    int status = 0;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return cb_fail(err, "report: %s/%s: waiting for %s: %s", dir, script, program,
                           strerror(errno));
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, log);
        unlink(path);
        return 0;
    }
    char complaint[600];
    rgp_complaint(dir, log, complaint, sizeof complaint);
    if (WIFEXITED(status))
        return cb_fail(err, "report: %s/%s: %s exited with status %d: %s", dir, script, program,
                       WEXITSTATUS(status), complaint);
    return cb_fail(err, "report: %s/%s: %s was killed by signal %d", dir, script, program,
                   WTERMSIG(status));
}
