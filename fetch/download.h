/* fetch/download.h — the download engine of the fetch stage: puts a list of
 * URLs (http, https, file) into the cache, several at a time, resumable,
 * retried, and verified.
 *
 * For each item the engine:
 *   1. looks at dest: an existing file whose sha256 matches (or, with no
 *      sha256 given, whose size matches or is not known) is a cache hit and
 *      is not downloaded again;
 *   2. in offline mode fails every item that is not a cache hit;
 *   3. creates dest's folder, opens and locks "dest.part" beside dest, and
 *      resumes it with an HTTP Range request when it holds bytes already
 *      (from 0 again if the server answers 200, or the partial is larger
 *      than the expected size);
 *   4. retries transient failures (connection errors, timeouts, a cut
 *      transfer, HTTP 408/429/5xx; 429 and 503 honour Retry-After) with
 *      exponential backoff, and fails at once on permanent ones (404 and
 *      other 4xx; 401/403 with a hint to set HF_TOKEN; a size mismatch);
 *   5. hashes the bytes while they stream, and only when size and sha256 are
 *      right renames dest.part to dest (atomically, after fsync): a bad file
 *      never appears at dest, and a mismatching .part is deleted.
 *
 * The token, if any, is sent as "Authorization: Bearer" only when the item's
 * URL host is token_host and its scheme https (plain http only to loopback,
 * for tests), and never to the target of a redirect to another host, scheme
 * or port (libcurl drops custom Authorization headers there with
 * CURLOPT_UNRESTRICTED_AUTH off; tests/test_download.c proves it).
 *
 * Never: turn off TLS verification, follow a redirect to anything but http or
 * https, print or log the token or the credentials in a URL, leave a file at
 * dest that failed its checks, or exit. */
#ifndef CTXBENCH_FETCH_DOWNLOAD_H
#define CTXBENCH_FETCH_DOWNLOAD_H

#include <stdint.h>
#include <stdio.h>

#include "util/error.h"
#include "util/hash.h"

/* One file to place.  The caller owns the strings; they must stay valid for
 * the call.  The out fields are set by dl_fetch on every item. */
typedef struct dl_item {
    const char *url;    /* http://, https:// or file:// */
    const char *dest;   /* final path in the cache; its folder is created */
    int64_t size;       /* expected bytes, or -1 when unknown */
    const char *sha256; /* expected lowercase/uppercase hex, or NULL or "" */
    /* out */
    char got_sha256[CB_SHA256_HEX_LEN]; /* digest of the file at dest ("" on failure) */
    int status;                         /* 0 placed or already cached, -1 failed */
    int cached;                         /* 1 when dest was already right */
    char error[512];                    /* why it failed ("" when status is 0) */
} dl_item;

typedef struct dl_opts {
    int parallel;            /* transfers at once (default 4) */
    int max_retries;         /* retries after the first attempt (default 5) */
    double backoff_s;        /* first retry delay, doubled each retry (default 1) */
    double backoff_max_s;    /* cap on any delay, Retry-After included (default 60) */
    long connect_timeout_s;  /* default 30 */
    long low_speed_limit;    /* bytes/s under which a transfer is stalled (default 1024) */
    long low_speed_time_s;   /* ... for this long: then it fails and is retried (default 60) */
    long max_redirects;      /* default 10 */
    int offline;             /* 1: only the cache; items not in it fail */
    const char *token;       /* bearer token (HF_TOKEN) or NULL; never printed */
    const char *token_host;  /* the only host the token goes to (e.g. "huggingface.co") */
    int progress;            /* 1: one redrawn progress line on log (caller: a terminal only);
                                0: one plain line per event on log */
    FILE *log;               /* where progress and event lines go; NULL: silent */
} dl_opts;

/* Fills o with the defaults above (no token, quiet, log NULL).  Cannot fail. */
void dl_opts_init(dl_opts *o);

/* Places every item (see the file comment); o NULL means the defaults.
 * Returns 0 when every item is at its dest with the right size and sha256;
 * otherwise -1 with err summarising ("N of M downloads failed: <first
 * item's error>") and each failed item's own error.  Items that succeed are
 * placed even when others fail.  Every dest must be distinct.  Blocks until
 * all items are done; safe to call from several threads at once on
 * different dests (libcurl's global init is done once, guarded). */
int dl_fetch(dl_item *items, int n, const dl_opts *o, cb_err *err);

/* Writes url to out (cap bytes) without user, password, query or fragment,
 * for messages: "https://host/path".  Writes "(malformed URL)" when url does
 * not parse.  Cannot fail. */
void dl_url_for_message(const char *url, char *out, size_t cap);

#endif
