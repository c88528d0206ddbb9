/* fetch/unpack.c — reading and unpacking untrusted archives under the safety
 * rules of unpack.h.
 *
 * One reader (unpack_run) walks the archive entry by entry: it checks the
 * header (count, path, type, duplicates, the size claimed), then decompresses
 * the data in pieces, counting the bytes actually produced against the limits
 * and hashing them, and hands each piece to one of three sinks: a file in the
 * staging folder (unpack_file), a memory buffer (the walkers, and the one
 * member wanted by unpack_read_member), or nothing.
 *
 * Never: follow or create links, write outside the staging folder, keep an
 * archive's permission bits or owners, enable a libarchive filter that runs an
 * external program, or leave a staging folder behind on failure. */
#include "fetch/unpack.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <nettle/sha2.h>

const unpack_limits unpack_default_limits = {
    .max_entry_bytes = INT64_C(16) << 30,
    .max_total_bytes = INT64_C(64) << 30,
    .max_entries = 100000,
};

#define UNPACK_PATH_MAX 4096
#define UNPACK_CHUNK 65536

enum unpack_mode { UNPACK_TO_DIR, UNPACK_WALK, UNPACK_MEMBER };

/* A set of the normalised paths seen so far (open addressing, FNV-1a). */
typedef struct unpack_seen {
    char **slot;
    size_t cap, n;
} unpack_seen;

typedef struct unpack_run {
    const char *label; /* the archive's name in errors */
    unpack_limits lim;
    enum unpack_mode mode;
    struct archive *a;
    unpack_seen seen;
    int entries;
    int64_t total;
    /* UNPACK_TO_DIR */
    const char *staging;
    unpack_list *list;
    /* UNPACK_WALK */
    unpack_visit_fn *visit;
    void *ctx;
    /* UNPACK_MEMBER */
    const char *member;
    int64_t member_max;
    int found;
    /* the memory sink: the current entry's content */
    char *buf;
    size_t len, cap;
} unpack_run;

/* ---- small helpers ------------------------------------------------------------- */

void unpack_list_free(unpack_list *list)
{
    if (!list)
        return;
    for (size_t i = 0; i < list->n; i++)
        free(list->items[i].path);
    free(list->items);
    list->items = NULL;
    list->n = 0;
}

/* Copies a path for an error message: at most 200 bytes, control bytes as '?'. */
static const char *unpack_printable(const char *s, char *out, size_t cap)
{
    size_t i = 0;
    for (; s && s[i] && i + 1 < cap && i < 200; i++)
        out[i] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
    out[i] = '\0';
    return out;
}

/* Fills err with "<archive>: entry "<path>": <why>" and returns -1. */
static int unpack_entry_fail(const unpack_run *r, const char *path, cb_err *err,
                             const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int unpack_entry_fail(const unpack_run *r, const char *path, cb_err *err,
                             const char *fmt, ...)
{
    char why[512], shown[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    return cb_fail(err, "%s: entry \"%s\": %s", r->label, unpack_printable(path, shown, sizeof shown),
                   why);
}

static void unpack_hex(const uint8_t *d, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[d[i] >> 4];
        out[2 * i + 1] = digits[d[i] & 15];
    }
    out[2 * n] = '\0';
}

int unpack_path_normalise(const char *path, char *out, size_t cap, cb_err *err)
{
    size_t o = 0;
    if (!path || !path[0])
        return cb_fail(err, "empty path");
    if (path[0] == '/')
        return cb_fail(err, "absolute path");
    if (strchr(path, '\\'))
        return cb_fail(err, "backslash in path");
    const char *p = path;
    while (*p) {
        const char *end = strchr(p, '/');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return cb_fail(err, "\"..\" component in path");
        if (n > 0 && !(n == 1 && p[0] == '.')) {
            if (o + n + 2 > cap)
                return cb_fail(err, "path longer than %zu bytes", cap - 1);
            if (o)
                out[o++] = '/';
            memcpy(out + o, p, n);
            o += n;
        }
        p += n + (end ? 1 : 0);
    }
    if (o == 0)
        return cb_fail(err, "empty path");
    out[o] = '\0';
    return 0;
}

int unpack_sha256_file(const char *path, char out[CB_SHA256_HEX_LEN], cb_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return cb_fail(err, "%s: %s", path, strerror(errno));
    struct sha256_ctx c;
    uint8_t digest[SHA256_DIGEST_SIZE];
    char buf[UNPACK_CHUNK];
    size_t n;
    sha256_init(&c);
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        sha256_update(&c, n, (const uint8_t *)buf);
    int bad = ferror(f);
    fclose(f);
    if (bad)
        return cb_fail(err, "%s: read error", path);
    sha256_digest(&c, sizeof digest, digest);
    unpack_hex(digest, sizeof digest, out);
    return 0;
}

/* ---- the set of seen paths ------------------------------------------------------- */

static size_t unpack_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return (size_t)h;
}

static void unpack_seen_free(unpack_seen *set)
{
    for (size_t i = 0; i < set->cap; i++)
        free(set->slot[i]);
    free(set->slot);
    memset(set, 0, sizeof *set);
}

/* Places an owned string in a table known to have room. */
static void unpack_seen_place(char **slot, size_t cap, char *s)
{
    size_t i = unpack_hash(s) & (cap - 1);
    while (slot[i])
        i = (i + 1) & (cap - 1);
    slot[i] = s;
}

/* Adds path; returns 1 when it was already there, 0 when added, -1 out of memory. */
static int unpack_seen_add(unpack_seen *set, const char *path)
{
    if (set->cap) {
        for (size_t i = unpack_hash(path) & (set->cap - 1); set->slot[i]; i = (i + 1) & (set->cap - 1))
            if (strcmp(set->slot[i], path) == 0)
                return 1;
    }
    if (2 * (set->n + 1) > set->cap) {
        size_t cap = set->cap ? 2 * set->cap : 64;
        char **slot = calloc(cap, sizeof *slot);
        if (!slot)
            return -1;
        for (size_t i = 0; i < set->cap; i++)
            if (set->slot[i])
                unpack_seen_place(slot, cap, set->slot[i]);
        free(set->slot);
        set->slot = slot;
        set->cap = cap;
    }
    char *copy = strdup(path);
    if (!copy)
        return -1;
    unpack_seen_place(set->slot, set->cap, copy);
    set->n++;
    return 0;
}

/* ---- opening ------------------------------------------------------------------------ */

static struct archive *unpack_reader(void)
{
    struct archive *a = archive_read_new();
    if (!a)
        return NULL;
    if (archive_read_support_format_tar(a) != ARCHIVE_OK ||
        archive_read_support_format_zip(a) != ARCHIVE_OK ||
        archive_read_support_filter_gzip(a) != ARCHIVE_OK ||
        archive_read_support_filter_zstd(a) != ARCHIVE_OK) {
        archive_read_free(a);
        return NULL;
    }
    return a;
}

/* ---- sinks ----------------------------------------------------------------------------- */

/* Creates every folder on the way to staging/rel (rel's last component too
 * when is_dir).  Refuses anything in the way that is not a folder. */
static int unpack_mkdirs(const unpack_run *r, const char *rel, int is_dir, cb_err *err)
{
    char full[2 * UNPACK_PATH_MAX + 2];
    size_t base = (size_t)snprintf(full, sizeof full, "%s/%s", r->staging, rel);
    if (base >= sizeof full)
        return unpack_entry_fail(r, rel, err, "path too long");
    for (char *p = full + strlen(r->staging) + 1;; p++) {
        int last = *p == '\0';
        if (*p != '/' && !last)
            continue;
        if (last && !is_dir)
            break;
        *p = '\0';
        struct stat st;
        if (mkdir(full, 0755) != 0 && (errno != EEXIST || lstat(full, &st) != 0 || !S_ISDIR(st.st_mode)))
            return unpack_entry_fail(r, rel, err, "cannot create folder: %s",
                                     errno == EEXIST ? "a file is in the way" : strerror(errno));
        if (last)
            break;
        *p = '/';
    }
    return 0;
}

/* Opens staging/rel for writing, new (never through a link). */
static int unpack_create(const unpack_run *r, const char *rel, cb_err *err)
{
    char full[2 * UNPACK_PATH_MAX + 2];
    if (unpack_mkdirs(r, rel, 0, err) != 0)
        return -1;
    snprintf(full, sizeof full, "%s/%s", r->staging, rel);
    int fd = open(full, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0)
        return unpack_entry_fail(r, rel, err, "cannot create: %s", strerror(errno));
    return fd;
}

static int unpack_write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Appends to the memory sink, growing it up to the entry limit. */
static int unpack_buf_add(unpack_run *r, const char *p, size_t n)
{
    if (r->len + n + 1 > r->cap) {
        size_t cap = r->cap ? r->cap : 4096;
        while (cap < r->len + n + 1)
            cap *= 2;
        char *b = realloc(r->buf, cap);
        if (!b)
            return -1;
        r->buf = b;
        r->cap = cap;
    }
    memcpy(r->buf + r->len, p, n);
    r->len += n;
    r->buf[r->len] = '\0';
    return 0;
}

static int unpack_list_add(unpack_list *list, const char *path, int64_t size, const char *sha)
{
    unpack_entry *items = realloc(list->items, (list->n + 1) * sizeof *items);
    if (!items)
        return -1;
    list->items = items;
    char *copy = strdup(path);
    if (!copy)
        return -1;
    items[list->n].path = copy;
    items[list->n].size = size;
    memcpy(items[list->n].sha256, sha, CB_SHA256_HEX_LEN);
    list->n++;
    return 0;
}

/* ---- one entry ------------------------------------------------------------------------- */

/* Checks an entry's header; sets *is_dir.  path is the normalised path. */
static int unpack_check_header(unpack_run *r, struct archive_entry *e, const char *raw,
                               char *path, size_t cap, int *is_dir, cb_err *err)
{
    cb_err why = {{0}};
    if (++r->entries > r->lim.max_entries)
        return unpack_entry_fail(r, raw, err, "more than %d entries (the limit)", r->lim.max_entries);
    if (unpack_path_normalise(raw, path, cap, &why) != 0)
        return unpack_entry_fail(r, raw, err, "unsafe: %s", why.msg);
    if (archive_entry_hardlink(e))
        return unpack_entry_fail(r, raw, err, "unsafe: a hard link");
    mode_t type = archive_entry_filetype(e);
    if (type == AE_IFLNK || archive_entry_symlink(e))
        return unpack_entry_fail(r, raw, err, "unsafe: a symbolic link");
    if (type != AE_IFREG && type != AE_IFDIR)
        return unpack_entry_fail(r, raw, err, "unsafe: not a regular file or folder (%s)",
                                 type == AE_IFCHR ? "character device" : type == AE_IFBLK ? "block device"
                                 : type == AE_IFIFO ? "fifo" : type == AE_IFSOCK ? "socket" : "unknown type");
    if (archive_entry_is_encrypted(e))
        return unpack_entry_fail(r, raw, err, "encrypted");
    if (archive_entry_size_is_set(e) && archive_entry_size(e) > r->lim.max_entry_bytes)
        return unpack_entry_fail(r, raw, err, "claims %lld bytes, over the limit of %lld",
                                 (long long)archive_entry_size(e), (long long)r->lim.max_entry_bytes);
    int dup = unpack_seen_add(&r->seen, path);
    if (dup < 0)
        return unpack_entry_fail(r, raw, err, "out of memory");
    if (dup)
        return unpack_entry_fail(r, raw, err, "duplicate entry");
    *is_dir = type == AE_IFDIR;
    return 0;
}

/* Decompresses the current entry into fd (>= 0) and/or the memory sink
 * (keep), counting and hashing the bytes produced; sets *size and sha. */
static int unpack_data(unpack_run *r, const char *path, int fd, int keep, int64_t limit,
                       int64_t *size, char sha[CB_SHA256_HEX_LEN], cb_err *err)
{
    char chunk[UNPACK_CHUNK];
    struct sha256_ctx c;
    uint8_t digest[SHA256_DIGEST_SIZE];
    sha256_init(&c);
    *size = 0;
    r->len = 0;
    for (;;) {
        la_ssize_t n = archive_read_data(r->a, chunk, sizeof chunk);
        if (n < 0)
            return unpack_entry_fail(r, path, err, "%s", archive_error_string(r->a)
                                                          ? archive_error_string(r->a) : "read error");
        if (n == 0)
            break;
        *size += n;
        r->total += n;
        if (*size > limit)
            return unpack_entry_fail(r, path, err, "more than %lld bytes decompressed (the limit)",
                                     (long long)limit);
        if (r->total > r->lim.max_total_bytes)
            return unpack_entry_fail(r, path, err,
                                     "the archive decompresses to more than %lld bytes (the limit)",
                                     (long long)r->lim.max_total_bytes);
        sha256_update(&c, (size_t)n, (const uint8_t *)chunk);
        if (fd >= 0 && unpack_write_all(fd, chunk, (size_t)n) != 0)
            return unpack_entry_fail(r, path, err, "write error: %s", strerror(errno));
        if (keep && unpack_buf_add(r, chunk, (size_t)n) != 0)
            return unpack_entry_fail(r, path, err, "out of memory");
    }
    if (keep && unpack_buf_add(r, "", 0) != 0) /* a buffer even when empty, NUL-terminated */
        return unpack_entry_fail(r, path, err, "out of memory");
    sha256_digest(&c, sizeof digest, digest);
    unpack_hex(digest, sizeof digest, sha);
    return 0;
}

/* Extracts one regular file into the staging folder. */
static int unpack_entry_to_dir(unpack_run *r, const char *path, cb_err *err)
{
    int64_t size;
    char sha[CB_SHA256_HEX_LEN];
    int fd = unpack_create(r, path, err);
    if (fd < 0)
        return -1;
    int ret = unpack_data(r, path, fd, 0, r->lim.max_entry_bytes, &size, sha, err);
    if (ret == 0 && fsync(fd) != 0)
        ret = unpack_entry_fail(r, path, err, "fsync: %s", strerror(errno));
    if (close(fd) != 0 && ret == 0)
        ret = unpack_entry_fail(r, path, err, "close: %s", strerror(errno));
    if (ret == 0 && r->list && unpack_list_add(r->list, path, size, sha) != 0)
        ret = unpack_entry_fail(r, path, err, "out of memory");
    return ret;
}

/* Handles one regular file in the mode of the run. */
static int unpack_regular(unpack_run *r, const char *path, cb_err *err)
{
    int64_t size;
    char sha[CB_SHA256_HEX_LEN];
    switch (r->mode) {
    case UNPACK_TO_DIR:
        return unpack_entry_to_dir(r, path, err);
    case UNPACK_WALK:
        if (unpack_data(r, path, -1, 1, r->lim.max_entry_bytes, &size, sha, err) != 0)
            return -1;
        return r->visit ? r->visit(r->ctx, path, r->buf, r->len, sha, err) : 0;
    case UNPACK_MEMBER:
        if (strcmp(path, r->member) != 0)
            return 0; /* not read: nothing of it is used */
        if (unpack_data(r, path, -1, 1, r->member_max < r->lim.max_entry_bytes
                                                ? r->member_max : r->lim.max_entry_bytes,
                        &size, sha, err) != 0)
            return -1;
        r->found = 1;
        return 0;
    }
    return 0;
}

/* Reads every entry (UNPACK_MEMBER: until the member is found). */
static int unpack_entries(unpack_run *r, cb_err *err)
{
    struct archive_entry *e;
    char path[UNPACK_PATH_MAX];
    for (;;) {
        int rc = archive_read_next_header(r->a, &e);
        if (rc == ARCHIVE_EOF)
            return 0;
        if (rc < ARCHIVE_WARN)
            return cb_fail(err, "%s: %s", r->label,
                           archive_error_string(r->a) ? archive_error_string(r->a) : "not a readable archive");
        const char *raw = archive_entry_pathname(e);
        int is_dir = 0;
        if (unpack_check_header(r, e, raw ? raw : "", path, sizeof path, &is_dir, err) != 0)
            return -1;
        if (is_dir) {
            if (r->mode == UNPACK_TO_DIR && unpack_mkdirs(r, path, 1, err) != 0)
                return -1;
            continue;
        }
        if (unpack_regular(r, path, err) != 0)
            return -1;
        if (r->mode == UNPACK_MEMBER && r->found)
            return 0;
    }
}

/* Runs the reader over an archive opened by the caller; frees it. */
static int unpack_go(unpack_run *r, cb_err *err)
{
    int ret = unpack_entries(r, err);
    archive_read_free(r->a);
    r->a = NULL;
    unpack_seen_free(&r->seen);
    return ret;
}

static int unpack_open_file(unpack_run *r, const char *path, cb_err *err)
{
    if (!(r->a = unpack_reader()))
        return cb_fail(err, "%s: cannot set up libarchive", path);
    if (archive_read_open_filename(r->a, path, UNPACK_CHUNK) != ARCHIVE_OK) {
        cb_fail(err, "%s: %s", path, archive_error_string(r->a) ? archive_error_string(r->a) : "cannot open");
        archive_read_free(r->a);
        r->a = NULL;
        return -1;
    }
    return 0;
}

static void unpack_run_init(unpack_run *r, const char *label, const unpack_limits *lim,
                            enum unpack_mode mode)
{
    memset(r, 0, sizeof *r);
    r->label = label;
    r->lim = lim ? *lim : unpack_default_limits;
    r->mode = mode;
}

/* ---- the public entry points --------------------------------------------------------- */

static int unpack_rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

int unpack_file(const char *archive_path, const char *dest_dir, const unpack_limits *lim,
                unpack_list *out, cb_err *err)
{
    unpack_run r;
    unpack_list list = {0};
    struct stat st;
    char staging[UNPACK_PATH_MAX];
    if (out)
        memset(out, 0, sizeof *out);
    if (lstat(dest_dir, &st) == 0)
        return cb_fail(err, "%s: already exists", dest_dir);
    if (errno != ENOENT)
        return cb_fail(err, "%s: %s", dest_dir, strerror(errno));
    if ((size_t)snprintf(staging, sizeof staging, "%s.unpack-XXXXXX", dest_dir) >= sizeof staging)
        return cb_fail(err, "%s: path too long", dest_dir);
    if (!mkdtemp(staging))
        return cb_fail(err, "%s: cannot create a staging folder: %s", staging, strerror(errno));
    unpack_run_init(&r, archive_path, lim, UNPACK_TO_DIR);
    r.staging = staging;
    r.list = &list;
    int ret = unpack_open_file(&r, archive_path, err);
    if (ret == 0)
        ret = unpack_go(&r, err);
    if (ret == 0 && rename(staging, dest_dir) != 0)
        ret = cb_fail(err, "%s: cannot move the unpacked files into place: %s", dest_dir, strerror(errno));
    if (ret != 0) {
        (void)nftw(staging, unpack_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        unpack_list_free(&list);
    } else if (out) {
        *out = list;
    } else {
        unpack_list_free(&list);
    }
    return ret;
}

int unpack_read_member(const char *archive_path, const char *name, int64_t max_bytes,
                       const unpack_limits *lim, char **data, size_t *len, cb_err *err)
{
    unpack_run r;
    *data = NULL;
    *len = 0;
    unpack_run_init(&r, archive_path, lim, UNPACK_MEMBER);
    r.member = name;
    r.member_max = max_bytes;
    int ret = unpack_open_file(&r, archive_path, err);
    if (ret == 0)
        ret = unpack_go(&r, err);
    if (ret == 0 && !r.found)
        ret = cb_fail(err, "%s: no member \"%s\"", archive_path, name);
    if (ret != 0) {
        free(r.buf);
        return -1;
    }
    *data = r.buf;
    *len = r.len;
    return 0;
}

int unpack_walk_file(const char *archive_path, const unpack_limits *lim, unpack_visit_fn *visit,
                     void *ctx, cb_err *err)
{
    unpack_run r;
    unpack_run_init(&r, archive_path, lim, UNPACK_WALK);
    r.visit = visit;
    r.ctx = ctx;
    int ret = unpack_open_file(&r, archive_path, err);
    if (ret == 0)
        ret = unpack_go(&r, err);
    free(r.buf);
    return ret;
}

int unpack_walk_memory(const void *buf, size_t n, const char *label, const unpack_limits *lim,
                       unpack_visit_fn *visit, void *ctx, cb_err *err)
{
    unpack_run r;
    unpack_run_init(&r, label, lim, UNPACK_WALK);
    r.visit = visit;
    r.ctx = ctx;
    if (!(r.a = unpack_reader()))
        return cb_fail(err, "%s: cannot set up libarchive", label);
    if (archive_read_open_memory(r.a, buf, n) != ARCHIVE_OK) {
        cb_fail(err, "%s: %s", label, archive_error_string(r.a) ? archive_error_string(r.a) : "cannot open");
        archive_read_free(r.a);
        return -1;
    }
    int ret = unpack_go(&r, err);
    free(r.buf);
    return ret;
}
