/* fetch/download.c — the download engine (fetch/download.h): libcurl multi,
 * resumable .part files, retries with backoff, sha256 while streaming, and an
 * atomic rename into the cache.
 *
 * Each item becomes a job with these states:
 *   WAIT  queued or waiting out a backoff (ready_at); .part open and locked
 *   RUN   an easy handle in the multi; bytes go to .part and the hash
 *   DONE  dest holds the verified file (or already did: a cache hit)
 *   FAIL  item->error says why; nothing new at dest
 * Transitions: job_prepare (-> WAIT, DONE or FAIL), job_start (WAIT -> RUN),
 * job_done (RUN -> WAIT for a retry, DONE or FAIL).  Invariant: while a job
 * holds its .part, j->have bytes are in it and all of them went through
 * j->sha, in order.
 *
 * Never: set CURLOPT_VERBOSE or CURLOPT_SSL_VERIFYPEER/HOST off (verbose
 * output would show the token), put the token or a URL's credentials in a
 * message, or rename a file into place before its size and sha256 passed. */
#include "fetch/download.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <nettle/sha2.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum job_state { J_WAIT, J_RUN, J_DONE, J_FAIL };

/* How a failed attempt is treated. */
enum why { W_NONE, W_TRANSIENT, W_PERMANENT, W_RESTART /* drop the .part, retry */ };

typedef struct job {
    dl_item *it;
    enum job_state st;
    char where[512];          /* the URL for messages (no credentials) */
    char part[PATH_MAX];
    int fd;                   /* .part, open and flock'ed; -1 */
    struct sha256_ctx sha;
    int64_t have;             /* bytes in .part, all hashed */
    int64_t offset;           /* where the current attempt started */
    int attempts;             /* failed attempts so far */
    int resumed;              /* some bytes came from an earlier attempt */
    int stale;                /* dest exists but is not the expected file */
    double ready_at;          /* monotonic seconds; WAIT only */
    CURL *h;
    struct curl_slist *hdrs;
    char range[32];
    char curl_msg[CURL_ERROR_SIZE];
    /* the response being received (reset at each status line) */
    long code;
    int64_t clen, cr_start, cr_end, cr_total;
    double retry_after;       /* seconds, -1 when absent */
    int body_started, discard;
    /* set by the callbacks when they abort the transfer */
    enum why why;
    char why_msg[384];
} job;

typedef struct engine {
    dl_opts o;
    job *jobs;
    int n;
    CURLM *multi;
    int running;
    int64_t total_bytes;      /* sum of known sizes, for the progress line */
    double last_draw;
    int bar_shown;
} engine;

/* ---- small helpers ------------------------------------------------------- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static CURLcode g_init_rc = CURLE_FAILED_INIT;

static void global_init(void)
{
    g_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

void dl_opts_init(dl_opts *o)
{
    memset(o, 0, sizeof *o);
    o->parallel = 4;
    o->max_retries = 5;
    o->backoff_s = 1.0;
    o->backoff_max_s = 60.0;
    o->connect_timeout_s = 30;
    o->low_speed_limit = 1024;
    o->low_speed_time_s = 60;
    o->max_redirects = 10;
}

void dl_url_for_message(const char *url, char *out, size_t cap)
{
    snprintf(out, cap, "(malformed URL)");
    if (!url)
        return;
    CURLU *u = curl_url();
    char *s = NULL;
    if (u && curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK &&
        curl_url_set(u, CURLUPART_USER, NULL, 0) == CURLUE_OK &&
        curl_url_set(u, CURLUPART_PASSWORD, NULL, 0) == CURLUE_OK &&
        curl_url_set(u, CURLUPART_OPTIONS, NULL, 0) == CURLUE_OK &&
        curl_url_set(u, CURLUPART_QUERY, NULL, 0) == CURLUE_OK &&
        curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_URL, &s, 0) == CURLUE_OK)
        snprintf(out, cap, "%s", s);
    curl_free(s);
    curl_url_cleanup(u);
}

/* 1 when url's host is host (case-insensitive); 0 otherwise or unparsable. */
static int url_host_is(const char *url, const char *host)
{
    if (!url || !host || !*host)
        return 0;
    CURLU *u = curl_url();
    char *h = NULL;
    int same = u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
               curl_url_get(u, CURLUPART_HOST, &h, 0) == CURLUE_OK && strcasecmp(h, host) == 0;
    curl_free(h);
    curl_url_cleanup(u);
    return same;
}

/* May a bearer token travel to url?  Only over https, or plain http to this
 * machine (loopback: the tests' server). */
static int token_safe_scheme(const char *url)
{
    if (strncasecmp(url, "https://", 8) == 0)
        return 1;
    return strncasecmp(url, "http://", 7) == 0 &&
           (url_host_is(url, "127.0.0.1") || url_host_is(url, "localhost") ||
            url_host_is(url, "[::1]"));
}

static int is_http(const char *url)
{
    return strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "https://", 8) == 0;
}

static void hex_digest(struct sha256_ctx *c, char out[CB_SHA256_HEX_LEN])
{
    uint8_t d[SHA256_DIGEST_SIZE];
    sha256_digest(c, sizeof d, d); /* also resets c */
    for (int i = 0; i < SHA256_DIGEST_SIZE; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* Feeds the first `upto` bytes of fd (from offset 0) to c.  Returns 0, or -1
 * with errno set (a short file gives EIO). */
static int hash_fd(int fd, int64_t upto, struct sha256_ctx *c)
{
    uint8_t buf[1 << 16];
    int64_t done = 0;
    while (done < upto) {
        int64_t left = upto - done;
        size_t want = left < (int64_t)sizeof buf ? (size_t)left : sizeof buf;
        ssize_t r = pread(fd, buf, want, done);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            if (r == 0)
                errno = EIO;
            return -1;
        }
        sha256_update(c, (size_t)r, buf);
        done += r;
    }
    return 0;
}

/* The sha256 of the whole file at path into out.  Returns 0, or -1 with errno. */
static int hash_path(const char *path, int64_t size, char out[CB_SHA256_HEX_LEN])
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct sha256_ctx c;
    sha256_init(&c);
    int rc = hash_fd(fd, size, &c);
    int e = errno;
    close(fd);
    errno = e;
    if (rc == 0)
        hex_digest(&c, out);
    return rc;
}

/* mkdir -p of the folder that holds path.  Returns 0, or -1 with errno. */
static int make_parent_dirs(const char *path)
{
    char d[PATH_MAX];
    if (snprintf(d, sizeof d, "%s", path) >= (int)sizeof d) {
        errno = ENAMETOOLONG;
        return -1;
    }
    char *slash = strrchr(d, '/');
    if (!slash || slash == d)
        return 0;
    *slash = '\0';
    for (char *p = d + 1; ; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(d, 0777) < 0 && errno != EEXIST)
            return -1;
        *p = c;
        if (!c)
            break;
    }
    struct stat st;
    if (stat(d, &st) < 0)
        return -1;
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

/* fsync of the folder holding path, so a rename survives a crash.  Best effort. */
static void sync_parent(const char *path)
{
    char d[PATH_MAX];
    snprintf(d, sizeof d, "%s", path);
    char *slash = strrchr(d, '/');
    if (slash == d)
        slash[1] = '\0';
    else if (slash)
        *slash = '\0';
    else
        snprintf(d, sizeof d, ".");
    int fd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* ---- messages -------------------------------------------------------------- */

static void clear_bar(engine *e)
{
    if (e->bar_shown && e->o.log) {
        fputs("\r\033[K", e->o.log);
        e->bar_shown = 0;
    }
}

/* One event line on the log.  In progress mode only `important` lines show. */
static void say(engine *e, int important, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void say(engine *e, int important, const char *fmt, ...)
{
    if (!e->o.log || (e->o.progress && !important))
        return;
    clear_bar(e);
    va_list ap;
    va_start(ap, fmt);
    fputs("fetch: ", e->o.log);
    vfprintf(e->o.log, fmt, ap);
    fputc('\n', e->o.log);
    va_end(ap);
    fflush(e->o.log);
}

static void human(double b, char *out, size_t cap)
{
    const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int i = 0;
    while (b >= 1024 && i < 4) {
        b /= 1024;
        i++;
    }
    snprintf(out, cap, i ? "%.1f %s" : "%.0f %s", b, u[i]);
}

/* Redraws the progress line at most 5 times a second (or now when force). */
static void draw_bar(engine *e, int force)
{
    if (!e->o.progress || !e->o.log)
        return;
    double t = now_s();
    if (!force && t - e->last_draw < 0.2)
        return;
    e->last_draw = t;
    int64_t got = 0;
    int done = 0;
    for (int i = 0; i < e->n; i++) {
        job *j = &e->jobs[i];
        if (j->st == J_DONE) {
            done++;
            got += j->it->size > 0 ? j->it->size : 0;
        } else if (j->st != J_FAIL) {
            got += j->have;
        }
    }
    char g[32], tot[32], bar[31];
    human((double)got, g, sizeof g);
    int pct = e->total_bytes > 0 ? (int)(100.0 * (double)got / (double)e->total_bytes) : 0;
    pct = pct > 100 ? 100 : pct;
    for (int i = 0; i < 30; i++)
        bar[i] = i < pct * 30 / 100 ? '#' : '.';
    bar[30] = '\0';
    if (e->total_bytes > 0) {
        human((double)e->total_bytes, tot, sizeof tot);
        fprintf(e->o.log, "\r\033[K[%s] %3d%% %s of %s, %d of %d files", bar, pct, g, tot, done,
                e->n);
    } else {
        fprintf(e->o.log, "\r\033[K%s, %d of %d files", g, done, e->n);
    }
    fflush(e->o.log);
    e->bar_shown = 1;
}

/* ---- job life ---------------------------------------------------------------- */

static int64_t expected(const job *j)
{
    return j->it->size;
}

static int has_sha(const job *j)
{
    return j->it->sha256 && j->it->sha256[0];
}

/* Ends the job in FAIL with the message; drops the .part when drop_part (or
 * when it is empty).  Always returns -1. */
static int job_fail(job *j, int drop_part, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int job_fail(job *j, int drop_part, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(j->it->error, sizeof j->it->error, fmt, ap);
    va_end(ap);
    if (j->fd >= 0) {
        if (drop_part || j->have == 0)
            unlink(j->part);
        close(j->fd);
        j->fd = -1;
    }
    j->it->status = -1;
    j->it->got_sha256[0] = '\0';
    j->st = J_FAIL;
    return -1;
}

/* Empties the .part and the hash: the next attempt starts from byte 0.
 * Returns 0, or -1 with errno. */
static int job_reset_part(job *j)
{
    if (ftruncate(j->fd, 0) < 0)
        return -1;
    j->have = 0;
    j->resumed = 0;
    sha256_init(&j->sha);
    return 0;
}

/* Is dest already right?  1 yes (item filled), 0 no. */
static int cache_hit(engine *e, job *j)
{
    struct stat st;
    if (stat(j->it->dest, &st) < 0 || !S_ISREG(st.st_mode))
        return 0;
    j->stale = 1;
    if (expected(j) >= 0 && st.st_size != expected(j)) {
        say(e, 0, "%s: %lld bytes in the cache, expected %lld: not the expected file", j->it->dest,
            (long long)st.st_size, (long long)expected(j));
        return 0;
    }
    char got[CB_SHA256_HEX_LEN];
    if (hash_path(j->it->dest, st.st_size, got) < 0)
        return 0;
    if (has_sha(j) && strcasecmp(got, j->it->sha256) != 0) {
        say(e, 1, "%s: sha256 %s in the cache, expected %s: not the expected file",
            j->it->dest, got, j->it->sha256);
        return 0;
    }
    snprintf(j->it->got_sha256, sizeof j->it->got_sha256, "%s", got);
    j->stale = 0;
    return 1;
}

/* Opens and locks dest.part and hashes what it holds.  Returns 0, or -1
 * having failed the job. */
static int open_part(engine *e, job *j)
{
    if (snprintf(j->part, sizeof j->part, "%s.part", j->it->dest) >= (int)sizeof j->part)
        return job_fail(j, 0, "%s: path too long", j->it->dest);
    if (make_parent_dirs(j->part) < 0)
        return job_fail(j, 0, "%s: cannot create its folder: %s", j->it->dest, strerror(errno));
    j->fd = open(j->part, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (j->fd < 0)
        return job_fail(j, 0, "%s: %s", j->part, strerror(errno));
    if (flock(j->fd, LOCK_EX | LOCK_NB) < 0) {
        int busy = errno == EWOULDBLOCK;
        close(j->fd);
        j->fd = -1;
        return job_fail(j, 0, "%s: %s", j->part,
                        busy ? "another download of this file is running" : strerror(errno));
    }
    struct stat st;
    if (fstat(j->fd, &st) < 0)
        return job_fail(j, 0, "%s: %s", j->part, strerror(errno));
    sha256_init(&j->sha);
    j->have = 0;
    if (st.st_size > 0 && expected(j) >= 0 && st.st_size >= expected(j)) {
        /* Larger than the file (or as large: nothing left to ask for). */
        say(e, 0, "%s: partial file of %lld bytes discarded", j->part, (long long)st.st_size);
        if (job_reset_part(j) < 0)
            return job_fail(j, 1, "%s: %s", j->part, strerror(errno));
    } else if (st.st_size > 0) {
        if (hash_fd(j->fd, st.st_size, &j->sha) < 0)
            return job_fail(j, 1, "%s: %s", j->part, strerror(errno));
        j->have = st.st_size;
        j->resumed = 1;
    }
    return 0;
}

/* Sets a job up: cache hit (DONE), offline miss (FAIL), or WAIT with its
 * .part ready.  Returns 0 unless the job failed. */
static int job_prepare(engine *e, job *j)
{
    dl_item *it = j->it;
    it->status = -1;
    it->cached = 0;
    it->error[0] = '\0';
    it->got_sha256[0] = '\0';
    j->fd = -1;
    dl_url_for_message(it->url, j->where, sizeof j->where);
    if (!it->url || !it->dest || !*it->dest)
        return job_fail(j, 0, "download item without %s", it->url ? "a destination" : "a URL");
    if (cache_hit(e, j)) {
        it->status = 0;
        it->cached = 1;
        j->st = J_DONE;
        say(e, 0, "%s: in the cache", it->dest);
        return 0;
    }
    if (e->o.offline)
        return job_fail(j, 0, "%s: %s and the network is off (offline mode); it would be "
                        "fetched from %s", it->dest,
                        j->stale ? "the cached file is not the expected one" : "not in the cache",
                        j->where);
    if (open_part(e, j) < 0)
        return -1;
    j->st = J_WAIT;
    j->ready_at = 0;
    return 0;
}

/* ---- libcurl callbacks ------------------------------------------------------- */

/* Called once the final response's headers are in (or at the end for an
 * empty body): decides what to do with the body.  Returns 0 to go on, -1 to
 * abort with j->why set. */
static int body_begin(job *j)
{
    int64_t want = expected(j);
    j->body_started = 1;
    if (!is_http(j->it->url))
        return 0; /* file://: no status; curl applied the range itself */
    if (j->code != 200 && j->code != 206) {
        j->discard = 1; /* an error page: keep it out of .part */
        return 0;
    }
    if (j->code == 206) {
        if (j->cr_start != j->offset) {
            j->why = W_RESTART;
            snprintf(j->why_msg, sizeof j->why_msg,
                     "asked for bytes from %lld, the server sent from %lld", (long long)j->offset,
                     (long long)j->cr_start);
            return -1;
        }
        if (j->cr_total >= 0 && j->cr_end != j->cr_total - 1) {
            j->why = W_PERMANENT;
            snprintf(j->why_msg, sizeof j->why_msg, "the server sent bytes %lld-%lld of %lld, "
                     "not the rest of the file", (long long)j->cr_start, (long long)j->cr_end,
                     (long long)j->cr_total);
            return -1;
        }
        if (want >= 0 && j->cr_total >= 0 && j->cr_total != want) {
            j->why = W_PERMANENT;
            snprintf(j->why_msg, sizeof j->why_msg, "size mismatch: the server has %lld bytes, "
                     "expected %lld", (long long)j->cr_total, (long long)want);
            return -1;
        }
    } else if (j->offset > 0) {
        /* 200 to a range request: the server ignores Range; start over. */
        if (job_reset_part(j) < 0) {
            j->why = W_PERMANENT;
            snprintf(j->why_msg, sizeof j->why_msg, "%.300s: %.60s", j->part, strerror(errno));
            return -1;
        }
        j->offset = 0;
    }
    if (want >= 0 && j->clen >= 0 && j->offset + j->clen != want) {
        j->why = W_PERMANENT;
        snprintf(j->why_msg, sizeof j->why_msg,
                 "size mismatch: Content-Length %lld%s, expected %lld",
                 (long long)j->clen, j->offset ? " after the resumed part" : "",
                 (long long)(want - j->offset));
        return -1;
    }
    return 0;
}

static size_t on_body(char *p, size_t sz, size_t nm, void *ud)
{
    job *j = ud;
    size_t n = sz * nm;
    if (!j->body_started && body_begin(j) < 0)
        return 0;
    if (j->discard)
        return n;
    if (expected(j) >= 0 && j->have + (int64_t)n > expected(j)) {
        j->why = W_PERMANENT;
        snprintf(j->why_msg, sizeof j->why_msg, "size mismatch: more than the expected %lld bytes",
                 (long long)expected(j));
        return 0;
    }
    for (size_t off = 0; off < n;) {
        ssize_t w = pwrite(j->fd, p + off, n - off, j->have + (int64_t)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            j->why = W_PERMANENT;
            snprintf(j->why_msg, sizeof j->why_msg, "%.300s: %.60s", j->part,
                     w < 0 ? strerror(errno) : "short write");
            return 0;
        }
        off += (size_t)w;
    }
    sha256_update(&j->sha, n, (const uint8_t *)p);
    j->have += (int64_t)n;
    return n;
}

/* "Name: value" → value (NUL-terminated in line) when name matches, else NULL. */
static char *header_value(char *line, const char *name)
{
    size_t k = strlen(name);
    if (strncasecmp(line, name, k) != 0 || line[k] != ':')
        return NULL;
    char *v = line + k + 1;
    while (*v == ' ' || *v == '\t')
        v++;
    return v;
}

static void parse_retry_after(job *j, const char *v)
{
    char *end;
    errno = 0;
    long s = strtol(v, &end, 10);
    if (end != v && errno == 0 && s >= 0) {
        j->retry_after = (double)s;
        return;
    }
    time_t when = curl_getdate(v, NULL); /* the HTTP-date form */
    if (when != (time_t)-1) {
        double d = difftime(when, time(NULL));
        j->retry_after = d > 0 ? d : 0;
    }
}

static size_t on_header(char *p, size_t sz, size_t nm, void *ud)
{
    job *j = ud;
    size_t n = sz * nm;
    char line[512];
    size_t k = n < sizeof line - 1 ? n : sizeof line - 1;
    memcpy(line, p, k);
    line[k] = '\0';
    line[strcspn(line, "\r\n")] = '\0';
    char *v;
    if (strncmp(line, "HTTP/", 5) == 0) {
        const char *sp = strchr(line, ' ');
        j->code = sp ? strtol(sp + 1, NULL, 10) : 0;
        j->clen = j->cr_start = j->cr_end = j->cr_total = -1;
        j->retry_after = -1;
    } else if ((v = header_value(line, "Content-Length"))) {
        j->clen = strtoll(v, NULL, 10);
    } else if ((v = header_value(line, "Content-Range"))) {
        long long s, e2, t;
        if (sscanf(v, "bytes %lld-%lld/%lld", &s, &e2, &t) == 3) {
            j->cr_start = s;
            j->cr_end = e2;
            j->cr_total = t;
        } else if (sscanf(v, "bytes %lld-%lld/*", &s, &e2) == 2) {
            j->cr_start = s;
            j->cr_end = e2;
        }
    } else if ((v = header_value(line, "Retry-After"))) {
        parse_retry_after(j, v);
    }
    return n;
}

/* ---- starting and finishing attempts ------------------------------------------ */

/* Wipes and frees the request headers (they may hold the token). */
static void free_headers(job *j)
{
    for (struct curl_slist *s = j->hdrs; s; s = s->next)
        explicit_bzero(s->data, strlen(s->data));
    curl_slist_free_all(j->hdrs);
    j->hdrs = NULL;
}

static int set_options(engine *e, job *j)
{
    CURL *h = j->h;
    const dl_opts *o = &e->o;
    int bad = 0;
    bad |= curl_easy_setopt(h, CURLOPT_URL, j->it->url) != CURLE_OK;
    bad |= curl_easy_setopt(h, CURLOPT_PRIVATE, j) != CURLE_OK;
    bad |= curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
    bad |= curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https,file") != CURLE_OK;
    bad |= curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https") != CURLE_OK;
    bad |= curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L) != CURLE_OK;
    bad |= curl_easy_setopt(h, CURLOPT_MAXREDIRS, o->max_redirects) != CURLE_OK;
    bad |= curl_easy_setopt(h, CURLOPT_UNRESTRICTED_AUTH, 0L) != CURLE_OK;
    bad |= curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK;
    bad |= curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK;
    bad |= curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, o->connect_timeout_s) != CURLE_OK;
    bad |= curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, o->low_speed_limit) != CURLE_OK;
    bad |= curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, o->low_speed_time_s) != CURLE_OK;
    bad |= curl_easy_setopt(h, CURLOPT_USERAGENT, "ctxbench-fetch") != CURLE_OK;
    bad |= curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK;
    bad |= curl_easy_setopt(h, CURLOPT_WRITEDATA, j) != CURLE_OK;
    bad |= curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header) != CURLE_OK;
    bad |= curl_easy_setopt(h, CURLOPT_HEADERDATA, j) != CURLE_OK;
    bad |= curl_easy_setopt(h, CURLOPT_ERRORBUFFER, j->curl_msg) != CURLE_OK;
    if (j->have > 0) {
        /* CURLOPT_RANGE rather than RESUME_FROM: a 200 answer is then ours
         * to handle (start over) instead of a curl error. */
        snprintf(j->range, sizeof j->range, "%lld-", (long long)j->have);
        bad |= curl_easy_setopt(h, CURLOPT_RANGE, j->range) != CURLE_OK;
    }
    if (o->token && *o->token && token_safe_scheme(j->it->url) &&
        url_host_is(j->it->url, o->token_host)) {
        char a[4096];
        if (snprintf(a, sizeof a, "Authorization: Bearer %s", o->token) >= (int)sizeof a)
            bad = 1;
        else if (!(j->hdrs = curl_slist_append(NULL, a)))
            bad = 1;
        explicit_bzero(a, sizeof a);
        bad |= curl_easy_setopt(h, CURLOPT_HTTPHEADER, j->hdrs) != CURLE_OK;
    }
    return bad ? -1 : 0;
}

/* WAIT -> RUN.  Returns 0, or -1 having failed the job. */
static int job_start(engine *e, job *j)
{
    j->offset = j->have;
    j->code = 0;
    j->clen = j->cr_start = j->cr_end = j->cr_total = -1;
    j->retry_after = -1;
    j->body_started = j->discard = 0;
    j->why = W_NONE;
    j->why_msg[0] = j->curl_msg[0] = '\0';
    if (!(j->h = curl_easy_init()) || set_options(e, j) < 0 ||
        curl_multi_add_handle(e->multi, j->h) != CURLM_OK) {
        if (j->h)
            curl_easy_cleanup(j->h);
        j->h = NULL;
        free_headers(j);
        return job_fail(j, 0, "GET %s: cannot set up the transfer (libcurl)", j->where);
    }
    if (j->attempts == 0)
        say(e, 0, "GET %s%s", j->where, j->have ? " (resuming)" : "");
    e->running++;
    j->st = J_RUN;
    return 0;
}

static void job_release_handle(engine *e, job *j)
{
    curl_multi_remove_handle(e->multi, j->h);
    curl_easy_cleanup(j->h);
    j->h = NULL;
    free_headers(j);
    e->running--;
}

/* Size and sha256 passed → fsync, rename into place, DONE.  Else FAIL (the
 * .part deleted) — or a restart from 0 when the bytes came partly from an
 * earlier attempt, which may have been stale. */
static int job_place(engine *e, job *j, enum why *retry)
{
    dl_item *it = j->it;
    if (expected(j) >= 0 && j->have != expected(j))
        return job_fail(j, 1, "GET %s: size mismatch: received %lld bytes, expected %lld",
                        j->where, (long long)j->have, (long long)expected(j));
    char got[CB_SHA256_HEX_LEN];
    hex_digest(&j->sha, got);
    if (has_sha(j) && strcasecmp(got, it->sha256) != 0) {
        if (j->resumed) {
            *retry = W_RESTART;
            snprintf(j->why_msg, sizeof j->why_msg,
                     "sha256 mismatch after resuming (%s, expected %s)", got, it->sha256);
            return 0;
        }
        return job_fail(j, 1, "GET %s: sha256 mismatch: got %s, expected %s; nothing placed at %s",
                        j->where, got, it->sha256, it->dest);
    }
    if (fsync(j->fd) < 0 || rename(j->part, it->dest) < 0)
        return job_fail(j, 1, "%s: cannot place the download: %s", it->dest, strerror(errno));
    sync_parent(it->dest);
    close(j->fd);
    j->fd = -1;
    snprintf(it->got_sha256, sizeof it->got_sha256, "%s", got);
    it->status = 0;
    j->st = J_DONE;
    say(e, 0, "%s: placed (%lld bytes, sha256 %s)", it->dest, (long long)j->have, got);
    return 0;
}

/* Classifies an HTTP status that is not 200/206. */
static enum why http_why(long code, char *msg, size_t cap)
{
    if (code == 401 || code == 403) {
        snprintf(msg, cap, "HTTP %ld (%s): the file needs a login or is gated; set HF_TOKEN "
                 "to a token that may read it", code, code == 401 ? "unauthorised" : "forbidden");
        return W_PERMANENT;
    }
    if (code == 404 || code == 410) {
        snprintf(msg, cap, "HTTP %ld: no such file on the server", code);
        return W_PERMANENT;
    }
    if (code == 416) {
        snprintf(msg, cap, "HTTP 416: the server refused the resume range");
        return W_RESTART;
    }
    snprintf(msg, cap, "HTTP %ld", code);
    if (code == 408 || code == 429 || code >= 500)
        return W_TRANSIENT;
    return W_PERMANENT;
}

static enum why curl_why(CURLcode rc)
{
    switch (rc) {
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_HTTP3:
    case CURLE_QUIC_CONNECT_ERROR:
    case CURLE_WEIRD_SERVER_REPLY:
        return W_TRANSIENT;
    case CURLE_BAD_DOWNLOAD_RESUME:
    case CURLE_RANGE_ERROR:
        return W_RESTART;
    default:
        return W_PERMANENT;
    }
}

/* The delay before retry number `attempt` (1-based). */
static double backoff(const engine *e, const job *j, int attempt)
{
    double d = e->o.backoff_s * pow(2.0, attempt - 1);
    if (j->retry_after >= 0 && (j->code == 429 || j->code == 503))
        d = j->retry_after;
    return d > e->o.backoff_max_s ? e->o.backoff_max_s : d;
}

/* RUN -> WAIT (retry), DONE or FAIL after libcurl reported rc. */
static void job_done(engine *e, job *j, CURLcode rc)
{
    char msg[512];
    enum why why = W_NONE;
    job_release_handle(e, j);
    if (j->why != W_NONE) {
        why = j->why;
        snprintf(msg, sizeof msg, "%s", j->why_msg);
    } else if (rc != CURLE_OK) {
        why = curl_why(rc);
        snprintf(msg, sizeof msg, "%s%s%s", curl_easy_strerror(rc), j->curl_msg[0] ? ": " : "",
                 j->curl_msg);
    } else if (is_http(j->it->url) && j->code != 200 && j->code != 206) {
        why = http_why(j->code, msg, sizeof msg);
    } else if (!j->body_started && body_begin(j) < 0) {
        why = j->why; /* an empty body that fails its checks */
        snprintf(msg, sizeof msg, "%s", j->why_msg);
    } else {
        if (job_place(e, j, &why) < 0 || why == W_NONE)
            return;
        snprintf(msg, sizeof msg, "%s", j->why_msg);
    }
    if (why == W_PERMANENT) {
        job_fail(j, 1, "GET %s: %s", j->where, msg);
        return;
    }
    if (j->attempts >= e->o.max_retries) {
        job_fail(j, why == W_RESTART, "GET %s: %s (gave up after %d attempt%s)", j->where, msg,
                 j->attempts + 1, j->attempts ? "s" : "");
        return;
    }
    j->attempts++;
    if (why == W_RESTART && job_reset_part(j) < 0) {
        job_fail(j, 1, "%s: %s", j->part, strerror(errno));
        return;
    }
    double d = why == W_RESTART ? 0 : backoff(e, j, j->attempts);
    j->ready_at = now_s() + d;
    j->st = J_WAIT;
    say(e, 1, "GET %s: %s; retry %d of %d in %.1f s", j->where, msg, j->attempts,
        e->o.max_retries, d);
}

/* ---- the loop ------------------------------------------------------------------- */

/* Starts waiting jobs whose time has come, up to the parallel limit. */
static void start_due(engine *e)
{
    double t = now_s();
    int cap = e->o.parallel > 0 ? e->o.parallel : 1;
    for (int i = 0; i < e->n && e->running < cap; i++)
        if (e->jobs[i].st == J_WAIT && e->jobs[i].ready_at <= t &&
            job_start(e, &e->jobs[i]) < 0)
            say(e, 1, "failed: %s", e->jobs[i].it->error);
}

/* Milliseconds to wait for: the next waiting job's time (now when one is
 * due and a slot is free), capped at 1 s (200 ms with a progress line). */
static int wait_ms(const engine *e)
{
    double t = now_s(), next = e->o.progress ? 0.2 : 1.0;
    int cap = e->o.parallel > 0 ? e->o.parallel : 1;
    for (int i = 0; i < e->n; i++) {
        const job *j = &e->jobs[i];
        if (j->st == J_WAIT && e->running < cap && j->ready_at - t < next)
            next = j->ready_at - t;
    }
    return next > 0 ? (int)(next * 1000) + 1 : 0;
}

static int pending(const engine *e)
{
    for (int i = 0; i < e->n; i++)
        if (e->jobs[i].st == J_WAIT || e->jobs[i].st == J_RUN)
            return 1;
    return 0;
}

static int run_loop(engine *e, cb_err *err)
{
    while (pending(e)) {
        start_due(e);
        int still = 0, finished = 0;
        if (curl_multi_perform(e->multi, &still) != CURLM_OK)
            return cb_fail(err, "download: libcurl multi interface failed");
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(e->multi, &left))) {
            if (m->msg != CURLMSG_DONE)
                continue;
            job *j = NULL;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&j);
            job_done(e, j, m->data.result);
            if (j->st == J_FAIL)
                say(e, 1, "failed: %s", j->it->error);
            finished++;
        }
        draw_bar(e, 0);
        if (finished)
            continue; /* start what is due before waiting */
        int ms = wait_ms(e);
        if (e->running > 0)
            curl_multi_poll(e->multi, NULL, 0, ms, NULL);
        else if (ms > 0)
            nanosleep(&(struct timespec){ms / 1000, (ms % 1000) * 1000000L}, NULL);
    }
    return 0;
}

static int check_distinct(const dl_item *items, int n, cb_err *err)
{
    for (int i = 0; i < n; i++)
        for (int k = i + 1; k < n; k++)
            if (items[i].dest && items[k].dest && strcmp(items[i].dest, items[k].dest) == 0)
                return cb_fail(err, "download: %s is the destination of two items", items[i].dest);
    return 0;
}

/* Closes whatever a job still holds (after an internal failure of the loop). */
static void job_abandon(engine *e, job *j)
{
    if (j->h)
        job_release_handle(e, j);
    if (j->st == J_WAIT || j->st == J_RUN)
        job_fail(j, 0, "GET %s: abandoned", j->where);
}

int dl_fetch(dl_item *items, int n, const dl_opts *o, cb_err *err)
{
    if (n <= 0)
        return 0;
    if (!items)
        return cb_fail(err, "download: no items");
    if (check_distinct(items, n, err) < 0)
        return -1;
    engine e = {0};
    if (o)
        e.o = *o;
    else
        dl_opts_init(&e.o);
    pthread_once(&g_once, global_init);
    if (g_init_rc != CURLE_OK)
        return cb_fail(err, "download: libcurl initialisation failed: %s",
                       curl_easy_strerror(g_init_rc));
    if (!(e.jobs = calloc((size_t)n, sizeof *e.jobs)))
        return cb_fail(err, "download: out of memory");
    e.n = n;
    for (int i = 0; i < n; i++) {
        e.jobs[i].it = &items[i];
        if (items[i].size > 0)
            e.total_bytes += items[i].size;
        if (job_prepare(&e, &e.jobs[i]) < 0)
            say(&e, 1, "failed: %s", items[i].error);
    }
    int rc = 0;
    if (pending(&e)) {
        if (!(e.multi = curl_multi_init()))
            rc = cb_fail(err, "download: libcurl multi handle: out of memory");
        else
            rc = run_loop(&e, err);
    }
    for (int i = 0; i < n; i++)
        job_abandon(&e, &e.jobs[i]);
    draw_bar(&e, 1);
    if (e.bar_shown) { /* leave the final state on screen */
        fputc('\n', e.o.log);
        fflush(e.o.log);
    }
    if (e.multi)
        curl_multi_cleanup(e.multi);
    int failed = 0, first = -1;
    for (int i = 0; i < n; i++)
        if (items[i].status != 0 && failed++ == 0)
            first = i;
    free(e.jobs);
    if (rc < 0)
        return -1;
    if (failed)
        return cb_fail(err, "%d of %d downloads failed: %s", failed, n, items[first].error);
    return 0;
}
