/* tests/support/httpd.h — a small scripted HTTP/1.1 server on 127.0.0.1 (an
 * ephemeral port), run in a thread of the test program, for the download
 * tests.
 *
 * It serves an in-memory table of routes, each with a behaviour the test
 * chooses: a body (Content-Length, optional ETag, Range "bytes=N-" answered
 * with 206 + Content-Range), a fixed status, a failing status for the first K
 * requests (500, or 429 with Retry-After), a connection cut after M body
 * bytes (first request only), a stall after the headers, a 302 to another
 * route on this or another host name ("localhost" and "127.0.0.1" are
 * different hosts to libcurl's credential rules).  It records every request
 * (path, Host, Range, Authorization) so a test can assert what reached it.
 *
 * Why not nginx or lighttpd (as the issue suggests): a stock server cannot
 * cut a transfer midway on the first request only, stall, or fail K times
 * and then succeed; this one does exactly those faults, deterministically,
 * with no dependency and no configuration files.  It is a real server on a
 * real socket: libcurl talks to it as to any other.
 *
 * Test support (tsup_*): never in the library; it listens on loopback only,
 * serves one request per connection (Connection: close), and stops itself in
 * tsup_httpd_stop.  Not hardened: for tests only. */
#ifndef CTXBENCH_TESTS_SUPPORT_HTTPD_H
#define CTXBENCH_TESTS_SUPPORT_HTTPD_H

#include <stddef.h>

/* One route; a zeroed route (but for path and body) serves the body with
 * 200, or 206 for a Range request.  Strings and body must outlive the server. */
typedef struct tsup_route {
    const char *path;          /* exact request path, e.g. "/a.bin" (query ignored) */
    const void *body;
    size_t len;
    int status;                /* != 0: always answer this status (small text body) */
    int fail_first;            /* the first K requests get fail_status ... */
    int fail_status;           /* ... e.g. 500 or 429 */
    int retry_after;           /* > 0: a Retry-After header (seconds) with fail_status */
    size_t cut_after;          /* > 0: the first body answer closes after this many body bytes */
    int stall_s;               /* > 0: after the headers, nothing for this many seconds */
    int ignore_range;          /* 1: answer 200 with the whole body even to a Range request */
    const char *etag;          /* ETag header value (quoted by the caller) or NULL */
    const char *redirect_path; /* != NULL: 302 to http://<redirect_host>:<port><redirect_path> */
    const char *redirect_host; /* NULL: "127.0.0.1" */
} tsup_route;

/* What one request carried ("" for an absent header). */
typedef struct tsup_req {
    char path[256];
    char host[128];
    char range[64];
    char auth[512];
} tsup_req;

typedef struct tsup_httpd tsup_httpd;

/* Starts a server with a copy of routes[0..n).  Returns it, or NULL after
 * printing why to stderr.  Caller stops it with tsup_httpd_stop. */
tsup_httpd *tsup_httpd_start(const tsup_route *routes, int n);

/* Stops the thread, closes every socket and frees srv.  NULL is a no-op. */
void tsup_httpd_stop(tsup_httpd *srv);

/* The port it listens on. */
int tsup_httpd_port(const tsup_httpd *srv);

/* Writes "http://<host>:<port><path>" to out (cap bytes); host NULL means
 * 127.0.0.1.  Returns out. */
char *tsup_httpd_url(const tsup_httpd *srv, const char *host, const char *path, char *out,
                     size_t cap);

/* Requests received for path so far (all paths when path is NULL). */
int tsup_httpd_hits(tsup_httpd *srv, const char *path);

/* Copies request number i (0-based, in arrival order) to out.  Returns 0, or
 * -1 when there is no such request (only the first 64 are kept). */
int tsup_httpd_request(tsup_httpd *srv, int i, tsup_req *out);

#endif
