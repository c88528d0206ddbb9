/* tests/support/httpd.c — the scripted loopback HTTP/1.1 server of
 * tests/support/httpd.h: one thread, one poll loop over the listening socket,
 * a wake-up pipe and the open connections.
 *
 * A connection reads one request, builds its whole answer in memory (headers
 * and body), and then sends it, honouring two marks: `pause_at` (stop there
 * until `pause_until`, for a stall) and `close_at` (close there, for a cut or
 * the normal end).  Never: listen beyond 127.0.0.1, block the loop, or keep
 * running after tsup_httpd_stop. */
#include "tests/support/httpd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 32
#define MAX_REQS 64

typedef struct conn {
    int fd;                   /* -1: free slot */
    char in[8192];
    size_t inlen;
    char *out;                /* the answer, NULL while reading */
    size_t outlen, outpos;
    size_t pause_at;          /* SIZE_MAX: no pause */
    double pause_until;
    size_t close_at;
} conn;

struct tsup_httpd {
    int lfd, wake[2], port;
    pthread_t th;
    pthread_mutex_t mu;       /* guards hits and reqs */
    tsup_route *routes;
    int *hits;
    int nroutes;
    tsup_req reqs[MAX_REQS];
    int nreqs, total;
    conn conns[MAX_CONNS];
};

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void conn_close(conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    free(c->out);
    memset(c, 0, sizeof *c);
    c->fd = -1;
}

/* Copies header `name`'s value from the request head into out ("" if absent). */
static void get_header(const char *head, const char *name, char *out, size_t cap)
{
    out[0] = '\0';
    size_t k = strlen(name);
    for (const char *l = strstr(head, "\r\n"); l && l[2]; l = strstr(l + 2, "\r\n")) {
        const char *s = l + 2;
        if (strncasecmp(s, name, k) == 0 && s[k] == ':') {
            s += k + 1;
            while (*s == ' ')
                s++;
            size_t n = strcspn(s, "\r\n");
            n = n < cap - 1 ? n : cap - 1;
            memcpy(out, s, n);
            out[n] = '\0';
            return;
        }
    }
}

static const char *reason(int code)
{
    switch (code) {
    case 200: return "OK";
    case 206: return "Partial Content";
    case 302: return "Found";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 416: return "Range Not Satisfiable";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Status";
    }
}

/* Sets c's answer: status line, extra headers (each ending \r\n), body. */
static void answer(conn *c, int code, const char *extra, const void *body, size_t len)
{
    char head[1024];
    int h = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\nContent-Length: %zu\r\nConnection: close\r\n%s\r\n", code,
                     reason(code), len, extra);
    c->out = malloc((size_t)h + len + 1);
    if (!c->out) {
        conn_close(c);
        return;
    }
    memcpy(c->out, head, (size_t)h);
    if (len)
        memcpy(c->out + h, body, len);
    c->outlen = c->close_at = (size_t)h + len;
    c->outpos = 0;
    c->pause_at = (size_t)-1;
}

static void answer_text(conn *c, int code, const char *extra)
{
    char body[64];
    int n = snprintf(body, sizeof body, "%d %s\n", code, reason(code));
    answer(c, code, extra, body, (size_t)n);
}

/* The body (or the part asked for with Range), with the route's faults. */
static void answer_body(tsup_httpd *s, conn *c, const tsup_route *r, const char *range, int nth)
{
    char extra[256] = "Accept-Ranges: bytes\r\n";
    size_t from = 0;
    int code = 200;
    unsigned long long n;
    if (r->etag)
        snprintf(extra + strlen(extra), sizeof extra - strlen(extra), "ETag: %s\r\n", r->etag);
    if (!r->ignore_range && sscanf(range, "bytes=%llu-", &n) == 1) {
        if (n >= r->len) {
            snprintf(extra + strlen(extra), sizeof extra - strlen(extra),
                     "Content-Range: bytes */%zu\r\n", r->len);
            answer_text(c, 416, extra);
            return;
        }
        from = (size_t)n;
        code = 206;
        snprintf(extra + strlen(extra), sizeof extra - strlen(extra),
                 "Content-Range: bytes %zu-%zu/%zu\r\n", from, r->len - 1, r->len);
    }
    answer(c, code, extra, (const char *)r->body + from, r->len - from);
    if (!c->out)
        return;
    size_t head = c->outlen - (r->len - from);
    if (r->cut_after > 0 && nth == 0 && head + r->cut_after < c->outlen)
        c->close_at = head + r->cut_after;
    if (r->stall_s > 0) {
        c->pause_at = head;
        c->pause_until = mono() + r->stall_s;
    }
    (void)s;
}

/* A whole request head is in c->in: log it and build the answer. */
static void handle_request(tsup_httpd *s, conn *c)
{
    tsup_req q;
    memset(&q, 0, sizeof q);
    char method[16] = "", target[256] = "";
    if (sscanf(c->in, "%15s %255s", method, target) != 2) {
        answer_text(c, 400, "");
        return;
    }
    target[strcspn(target, "?")] = '\0';
    snprintf(q.path, sizeof q.path, "%s", target);
    get_header(c->in, "Host", q.host, sizeof q.host);
    get_header(c->in, "Range", q.range, sizeof q.range);
    get_header(c->in, "Authorization", q.auth, sizeof q.auth);
    int ri = -1, nth = 0;
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < s->nroutes; i++)
        if (strcmp(s->routes[i].path, q.path) == 0)
            ri = i;
    if (ri >= 0)
        nth = s->hits[ri]++;
    if (s->nreqs < MAX_REQS)
        s->reqs[s->nreqs++] = q;
    s->total++;
    pthread_mutex_unlock(&s->mu);
    if (ri < 0) {
        answer_text(c, 404, "");
        return;
    }
    const tsup_route *r = &s->routes[ri];
    char extra[512] = "";
    if (r->redirect_path) {
        snprintf(extra, sizeof extra, "Location: http://%s:%d%s\r\n",
                 r->redirect_host ? r->redirect_host : "127.0.0.1", s->port, r->redirect_path);
        answer_text(c, 302, extra);
    } else if (nth < r->fail_first) {
        if (r->retry_after > 0)
            snprintf(extra, sizeof extra, "Retry-After: %d\r\n", r->retry_after);
        answer_text(c, r->fail_status, extra);
    } else if (r->status) {
        answer_text(c, r->status, "");
    } else {
        answer_body(s, c, r, q.range, nth - r->fail_first);
    }
}

static void conn_read(tsup_httpd *s, conn *c)
{
    ssize_t r = recv(c->fd, c->in + c->inlen, sizeof c->in - 1 - c->inlen, 0);
    if (r <= 0) {
        if (r == 0 || (errno != EAGAIN && errno != EINTR))
            conn_close(c);
        return;
    }
    c->inlen += (size_t)r;
    c->in[c->inlen] = '\0';
    if (strstr(c->in, "\r\n\r\n"))
        handle_request(s, c);
    else if (c->inlen >= sizeof c->in - 1)
        conn_close(c);
}

static int conn_paused(const conn *c, double t)
{
    return c->outpos == c->pause_at && t < c->pause_until;
}

static void conn_write(conn *c)
{
    size_t end = c->close_at;
    if (c->pause_at != (size_t)-1 && c->outpos < c->pause_at && c->pause_at < end)
        end = c->pause_at;
    ssize_t w = send(c->fd, c->out + c->outpos, end - c->outpos, MSG_NOSIGNAL);
    if (w < 0) {
        if (errno != EAGAIN && errno != EINTR)
            conn_close(c);
        return;
    }
    c->outpos += (size_t)w;
    if (c->outpos >= c->close_at)
        conn_close(c);
}

static void accept_one(tsup_httpd *s)
{
    int fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0)
        return;
    for (int i = 0; i < MAX_CONNS; i++)
        if (s->conns[i].fd < 0) {
            s->conns[i].fd = fd;
            return;
        }
    close(fd); /* full: the client sees a reset and retries */
}

static void *serve(void *arg)
{
    tsup_httpd *s = arg;
    struct pollfd p[MAX_CONNS + 2];
    int idx[MAX_CONNS + 2];
    for (;;) {
        double t = mono();
        int np = 0;
        p[np++] = (struct pollfd){.fd = s->wake[0], .events = POLLIN};
        p[np++] = (struct pollfd){.fd = s->lfd, .events = POLLIN};
        for (int i = 0; i < MAX_CONNS; i++) {
            conn *c = &s->conns[i];
            if (c->fd < 0 || (c->out && conn_paused(c, t)))
                continue;
            idx[np] = i;
            p[np++] = (struct pollfd){.fd = c->fd, .events = c->out ? POLLOUT : POLLIN};
        }
        if (poll(p, (nfds_t)np, 20) < 0 && errno != EINTR)
            break;
        if (p[0].revents)
            break;
        if (p[1].revents & POLLIN)
            accept_one(s);
        for (int k = 2; k < np; k++) {
            conn *c = &s->conns[idx[k]];
            if (!p[k].revents || c->fd != p[k].fd)
                continue;
            if (!c->out)
                conn_read(s, c);
            else if (p[k].revents & (POLLERR | POLLHUP))
                conn_close(c);
            else
                conn_write(c);
        }
    }
    return NULL;
}

tsup_httpd *tsup_httpd_start(const tsup_route *routes, int n)
{
    tsup_httpd *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->lfd = s->wake[0] = s->wake[1] = -1;
    for (int i = 0; i < MAX_CONNS; i++)
        s->conns[i].fd = -1;
    pthread_mutex_init(&s->mu, NULL);
    s->routes = calloc((size_t)(n > 0 ? n : 1), sizeof *s->routes);
    s->hits = calloc((size_t)(n > 0 ? n : 1), sizeof *s->hits);
    if (!s->routes || !s->hits)
        goto fail;
    if (n > 0)
        memcpy(s->routes, routes, (size_t)n * sizeof *routes);
    s->nroutes = n;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->lfd < 0 || bind(s->lfd, (struct sockaddr *)&a, sizeof a) < 0 ||
        listen(s->lfd, 64) < 0 || getsockname(s->lfd, (struct sockaddr *)&a, &al) < 0 ||
        pipe2(s->wake, O_CLOEXEC) < 0) {
        perror("tsup_httpd_start");
        goto fail;
    }
    s->port = ntohs(a.sin_port);
    if (pthread_create(&s->th, NULL, serve, s) != 0) {
        fprintf(stderr, "tsup_httpd_start: cannot start the server thread\n");
        goto fail;
    }
    return s;
fail:
    if (s->lfd >= 0)
        close(s->lfd);
    if (s->wake[0] >= 0) {
        close(s->wake[0]);
        close(s->wake[1]);
    }
    pthread_mutex_destroy(&s->mu);
    free(s->routes);
    free(s->hits);
    free(s);
    return NULL;
}

void tsup_httpd_stop(tsup_httpd *s)
{
    if (!s)
        return;
    ssize_t w = write(s->wake[1], "x", 1);
    (void)w;
    pthread_join(s->th, NULL);
    for (int i = 0; i < MAX_CONNS; i++)
        conn_close(&s->conns[i]);
    close(s->lfd);
    close(s->wake[0]);
    close(s->wake[1]);
    pthread_mutex_destroy(&s->mu);
    free(s->routes);
    free(s->hits);
    free(s);
}

int tsup_httpd_port(const tsup_httpd *s)
{
    return s->port;
}

char *tsup_httpd_url(const tsup_httpd *s, const char *host, const char *path, char *out,
                     size_t cap)
{
    snprintf(out, cap, "http://%s:%d%s", host ? host : "127.0.0.1", s->port, path);
    return out;
}

int tsup_httpd_hits(tsup_httpd *s, const char *path)
{
    int n = 0;
    pthread_mutex_lock(&s->mu);
    if (!path)
        n = s->total;
    for (int i = 0; path && i < s->nroutes; i++)
        if (strcmp(s->routes[i].path, path) == 0)
            n = s->hits[i];
    pthread_mutex_unlock(&s->mu);
    return n;
}

int tsup_httpd_request(tsup_httpd *s, int i, tsup_req *out)
{
    int rc = -1;
    pthread_mutex_lock(&s->mu);
    if (i >= 0 && i < s->nreqs) {
        *out = s->reqs[i];
        rc = 0;
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}
