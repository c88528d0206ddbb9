/* reports/output.c — the report's output folder written as a whole (see
 * output.h): files rendered in memory, a digest to skip an unchanged
 * report, a build beside the folder and a swap in two renames.
 * Never: no store access, no shell; removes only folders marked as reports. */
#include "reports/output.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "reports/gnuplot.h"
#include "util/buildinfo.h"
#include "util/hash.h"
#include "util/text.h"

#define ROUT_MARKER ".ctxbench-report"

typedef struct rout_file {
    char *path;  /* relative to the output folder */
    char *data;
    size_t len;
} rout_file;

struct rout {
    rout_file *files;
    int n_files;
    char **scripts;    /* relative paths of the figure scripts */
    int n_scripts;
    char **products;   /* relative paths of the files the scripts write */
    int n_products;
    FILE *open;        /* the memory stream of the file being written */
    char *open_data;
    size_t open_len;
    char *open_path;
    int oom;
};

rout *rout_create(void)
{
    return calloc(1, sizeof(rout));
}

void rout_free(rout *o)
{
    if (!o)
        return;
    if (o->open) {
        fclose(o->open);
        free(o->open_data);
        free(o->open_path);
    }
    for (int i = 0; i < o->n_files; i++) {
        free(o->files[i].path);
        free(o->files[i].data);
    }
    for (int i = 0; i < o->n_scripts; i++)
        free(o->scripts[i]);
    for (int i = 0; i < o->n_products; i++)
        free(o->products[i]);
    free(o->files);
    free(o->scripts);
    free(o->products);
    free(o);
}

FILE *rout_begin(rout *o, const char *path)
{
    if (o->oom || o->open)
        return NULL;
    o->open_path = strdup(path);
    o->open = o->open_path ? open_memstream(&o->open_data, &o->open_len) : NULL;
    if (!o->open) {
        free(o->open_path);
        o->open_path = NULL;
        o->oom = 1;
    }
    return o->open;
}

int rout_end(rout *o)
{
    if (!o->open)
        return -1;
    int bad = fclose(o->open) != 0;
    o->open = NULL;
    rout_file *files = bad ? NULL : realloc(o->files, (size_t)(o->n_files + 1) * sizeof *files);
    if (!files) {
        free(o->open_data);
        free(o->open_path);
        o->oom = 1;
        return -1;
    }
    o->files = files;
    files[o->n_files++] = (rout_file){o->open_path, o->open_data, o->open_len};
    o->open_path = o->open_data = NULL;
    return 0;
}

/* Appends a copy of s to a string list. */
static void rout_push(rout *o, char ***list, int *n, const char *s)
{
    char **l = realloc(*list, (size_t)(*n + 1) * sizeof *l);
    char *copy = strdup(s);
    if (!l || !copy) {
        if (l)
            *list = l;
        free(copy);
        o->oom = 1;
        return;
    }
    *list = l;
    l[(*n)++] = copy;
}

void rout_script(rout *o, const char *path, const char *const *products)
{
    rout_push(o, &o->scripts, &o->n_scripts, path);
    const char *slash = strrchr(path, '/');
    int dir_len = slash ? (int)(slash - path + 1) : 0;
    for (int i = 0; products[i]; i++) {
        char full[1024];
        snprintf(full, sizeof full, "%.*s%s", dir_len, path, products[i]);
        rout_push(o, &o->products, &o->n_products, full);
    }
}

int rout_n_files(const rout *o)
{
    return o->n_files;
}

int rout_n_scripts(const rout *o)
{
    return o->n_scripts;
}

/* ---- digest and marker ------------------------------------------------------------------ */

/* The SHA-256 of every file (path and content, in order) and of the build. */
static int rout_digest(const rout *o, char out[CB_SHA256_HEX_LEN])
{
    size_t cap = (size_t)(o->n_files + 1) * CB_SHA256_HEX_LEN + 64;
    char *all = malloc(cap);
    if (!all)
        return -1;
    size_t used = (size_t)snprintf(all, cap, "%s %d\n", cb_source_revision(), cb_source_dirty());
    for (int i = 0; i < o->n_files; i++) {
        char *buf = malloc(strlen(o->files[i].path) + 1 + o->files[i].len);
        if (!buf) {
            free(all);
            return -1;
        }
        size_t n = strlen(o->files[i].path) + 1;
        memcpy(buf, o->files[i].path, n);
        memcpy(buf + n, o->files[i].data, o->files[i].len);
        cb_sha256_hex(buf, n + o->files[i].len, all + used);
        used += CB_SHA256_HEX_LEN - 1;
        free(buf);
    }
    cb_sha256_hex(all, used, out);
    free(all);
    return 0;
}

/* The digest recorded in dir's marker ("" when none); 1 when the marker exists. */
static int rout_marker(const char *dir, char digest[CB_SHA256_HEX_LEN])
{
    char path[4096];
    snprintf(path, sizeof path, "%s/" ROUT_MARKER, dir);
    char *text = cb_read_file(path, NULL, NULL);
    digest[0] = '\0';
    if (!text)
        return 0;
    const char *d = strstr(text, "digest ");
    if (d && strlen(d + 7) >= CB_SHA256_HEX_LEN - 1) {
        memcpy(digest, d + 7, CB_SHA256_HEX_LEN - 1);
        digest[CB_SHA256_HEX_LEN - 1] = '\0';
    }
    free(text);
    return 1;
}

/* 1 when the folder does not exist, is empty, or holds our marker; 0 when it
 * is something else (a file, or a folder of other things). */
static int rout_ours(const char *dir)
{
    struct stat st;
    char digest[CB_SHA256_HEX_LEN];
    if (stat(dir, &st) != 0)
        return errno == ENOENT;
    if (!S_ISDIR(st.st_mode))
        return 0;
    if (rout_marker(dir, digest))
        return 1;
    DIR *d = opendir(dir);
    struct dirent *e;
    int empty = d != NULL;
    while (d && empty && (e = readdir(d)))
        empty = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0;
    if (d)
        closedir(d);
    return empty;
}

static int rout_exists(const char *dir, const char *rel)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    return access(path, F_OK) == 0;
}

/* 1 when dir holds this very report, every file of it included. */
static int rout_up_to_date(const rout *o, const char *dir, const char *digest)
{
    char have[CB_SHA256_HEX_LEN];
    if (!rout_marker(dir, have) || strcmp(have, digest) != 0)
        return 0;
    for (int i = 0; i < o->n_files; i++)
        if (!rout_exists(dir, o->files[i].path))
            return 0;
    for (int i = 0; i < o->n_products; i++)
        if (!rout_exists(dir, o->products[i]))
            return 0;
    return 1;
}

/* ---- writing ---------------------------------------------------------------------------- */

static int rout_remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

/* Removes a folder tree that is ours (marked or empty); 0 when gone. */
static int rout_remove(const char *dir, cb_err *err)
{
    if (access(dir, F_OK) != 0)
        return 0;
    if (!rout_ours(dir))
        return cb_fail(err, "report: %s: exists and is not a ctxbench report folder (no %s); "
                            "move it away", dir, ROUT_MARKER);
    if (nftw(dir, rout_remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        return cb_fail(err, "report: %s: cannot remove: %s", dir, strerror(errno));
    return 0;
}

static int rout_write_file(const char *dir, const char *rel, const char *data, size_t len,
                           cb_err *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    if (cb_mkdirs_for(path, err) != 0)
        return -1;
    FILE *f = fopen(path, "wb");
    if (!f)
        return cb_fail(err, "report: %s: %s", path, strerror(errno));
    int bad = fwrite(data, 1, len, f) != len;
    bad |= fclose(f) != 0;
    return bad ? cb_fail(err, "report: %s: cannot write: %s", path, strerror(errno)) : 0;
}

static int rout_write_marker(const char *dir, const char *digest, cb_err *err)
{
    char text[64 + CB_SHA256_HEX_LEN + 32];
    int n = snprintf(text, sizeof text, "ctxbench report\ndigest %.64s\n", digest);
    return rout_write_file(dir, ROUT_MARKER, text, (size_t)n, err);
}

/* Runs every figure script inside the new folder. */
static int rout_run_scripts(const rout *o, const char *dir, cb_err *err)
{
    for (int i = 0; i < o->n_scripts; i++) {
        char *path = NULL;
        if (asprintf(&path, "%s/%s", dir, o->scripts[i]) < 0)
            return cb_fail(err, "report: out of memory");
        char *copy_dir = strdup(path), *copy_base = strdup(path);
        int rc = copy_dir && copy_base ? rgp_run(dirname(copy_dir), basename(copy_base), err)
                                       : cb_fail(err, "report: out of memory");
        free(path);
        free(copy_dir);
        free(copy_base);
        if (rc != 0)
            return -1;
    }
    return 0;
}

/* Builds the report in fresh (marked partial until it is complete). */
static int rout_build(const rout *o, const char *fresh, const char *digest, cb_err *err)
{
    if (rout_remove(fresh, err) != 0)
        return -1;
    if (mkdir(fresh, 0755) != 0)
        return cb_fail(err, "report: %s: cannot create: %s", fresh, strerror(errno));
    if (rout_write_marker(fresh, "partial", err) != 0)
        return -1;
    for (int i = 0; i < o->n_files; i++)
        if (rout_write_file(fresh, o->files[i].path, o->files[i].data, o->files[i].len, err) != 0)
            return -1;
    if (rout_run_scripts(o, fresh, err) != 0)
        return -1;
    return rout_write_marker(fresh, digest, err);
}

/* Keeps a failed attempt as DIR.failed and adds that to the message. */
static int rout_keep_failed(const char *fresh, const char *dir, cb_err *err)
{
    char failed[4096];
    cb_err ignored;
    snprintf(failed, sizeof failed, "%s.failed", dir);
    if (rout_remove(failed, &ignored) != 0 || rename(fresh, failed) != 0)
        return -1;
    if (!err)
        return -1;
    /* the message names files in fresh: they are in `failed` now */
    char why[sizeof err->msg];
    size_t n = strlen(fresh), used = 0;
    for (const char *p = err->msg; *p && used + 1 < sizeof why;) {
        if (strncmp(p, fresh, n) == 0 && strlen(failed) + used + 1 < sizeof why) {
            used += (size_t)snprintf(why + used, sizeof why - used, "%s", failed);
            p += n;
        } else {
            why[used++] = *p++;
        }
    }
    why[used] = '\0';
    return cb_fail(err, "%s (%s is unchanged; the attempt is kept in %s)", why, dir, failed);
}

/* Puts fresh in dir's place (dir moved aside first, then removed). */
static int rout_swap(const char *fresh, const char *dir, cb_err *err)
{
    char old[4096];
    snprintf(old, sizeof old, "%s.old", dir);
    if (access(dir, F_OK) == 0) {
        if (rout_remove(old, err) != 0)
            return -1;
        if (rename(dir, old) != 0)
            return cb_fail(err, "report: %s: cannot move aside: %s", dir, strerror(errno));
    }
    if (rename(fresh, dir) != 0)
        return cb_fail(err, "report: %s: cannot put in place: %s", dir, strerror(errno));
    return rout_remove(old, err);
}

int rout_commit(rout *o, const char *dir_arg, int force, int *up_to_date, cb_err *err)
{
    char digest[CB_SHA256_HEX_LEN], fresh[4096], dir[4000];
    *up_to_date = 0;
    cb_strlcpy(dir, dir_arg, sizeof dir);
    for (size_t n = strlen(dir); n > 1 && dir[n - 1] == '/'; n--)
        dir[n - 1] = '\0'; /* "out/" names the folder "out" */
    if (o->oom || o->open || rout_digest(o, digest) != 0)
        return cb_fail(err, "report: out of memory rendering the report");
    if (!rout_ours(dir))
        return cb_fail(err, "report: %s: exists and is not a ctxbench report folder (no %s); "
                            "choose another -o DIR", dir, ROUT_MARKER);
    if (!force && rout_up_to_date(o, dir, digest)) {
        *up_to_date = 1;
        return 0;
    }
    if (cb_mkdirs_for(dir, err) != 0)
        return -1;
    snprintf(fresh, sizeof fresh, "%s.new", dir);
    if (rout_build(o, fresh, digest, err) != 0) {
        if (access(fresh, F_OK) == 0)
            rout_keep_failed(fresh, dir, err);
        return -1;
    }
    return rout_swap(fresh, dir, err);
}
