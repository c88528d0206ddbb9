/* tests/test_download.c — fetch/download.c against a real HTTP server on
 * loopback (tests/support/httpd.c, started by each test) and file:// URLs:
 * plain fetch, resume after a cut transfer (in the same call and across
 * calls), permanent failures without retries (404, 401/403 with the HF_TOKEN
 * hint, a size mismatch), retries (500 then 200, 429 with Retry-After),
 * checksum mismatch (nothing placed, no .part left), a stalled server (low-
 * speed timeout), redirects, the token sent to its host only (never to a
 * redirect target on another host, never in a message), offline mode, cache
 * hits, parallel items, Range ignored by the server, stale partials.
 *
 * Never: reach beyond 127.0.0.1/localhost, or leave files outside its own
 * temporary folder (removed at the end of each test). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fetch/download.h"
#include "tests/support/httpd.h"
#include "util/hash.h"

#define BIG_LEN 300000
#define TOKEN "hf_SeCrEtToKeN123"

static unsigned char big[BIG_LEN];
static char big_sha[CB_SHA256_HEX_LEN];
static char tmp[64];

static int group_setup(void **state)
{
    uint32_t x = 12345;
    for (size_t i = 0; i < BIG_LEN; i++) {
        x = x * 1664525u + 1013904223u;
        big[i] = (unsigned char)(x >> 24);
    }
    cb_sha256_hex(big, BIG_LEN, big_sha);
    return 0;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    return remove(p);
}

static int setup(void **state)
{
    snprintf(tmp, sizeof tmp, "/tmp/ctxbench-dl-XXXXXX");
    return mkdtemp(tmp) ? 0 : -1;
}

static int teardown(void **state)
{
    return nftw(tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* tmp/name into out. */
static char *in_tmp(const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", tmp, name);
    return out;
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static int part_exists(const char *dest)
{
    char p[512];
    snprintf(p, sizeof p, "%s.part", dest);
    return exists(p);
}

static void write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static void assert_file_is(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("%s was not placed", path);
    unsigned char *b = malloc(n + 1);
    assert_non_null(b);
    size_t got = fread(b, 1, n + 1, f);
    fclose(f);
    assert_int_equal(got, n);
    assert_memory_equal(b, data, n);
    free(b);
}

/* Fast retries, short timeouts; DL_VERBOSE=1 shows the engine's lines. */
static dl_opts test_opts(void)
{
    dl_opts o;
    dl_opts_init(&o);
    o.max_retries = 3;
    o.backoff_s = 0.02;
    o.backoff_max_s = 3;
    o.connect_timeout_s = 5;
    o.low_speed_limit = 1;
    o.low_speed_time_s = 10;
    o.log = getenv("DL_VERBOSE") ? stderr : NULL;
    return o;
}

static dl_item item(const char *url, const char *dest, int64_t size, const char *sha)
{
    dl_item it = {.url = url, .dest = dest, .size = size, .sha256 = sha};
    return it;
}

/* Finds the first request for path; fails the test if there is none. */
static tsup_req request_for(tsup_httpd *s, const char *path)
{
    tsup_req q;
    for (int i = 0; tsup_httpd_request(s, i, &q) == 0; i++)
        if (strcmp(q.path, path) == 0)
            return q;
    fail_msg("the server saw no request for %s", path);
    return q;
}

/* 1. A plain fetch into a folder that does not exist yet. */
static void test_01_plain_fetch(void **state)
{
    tsup_route r[] = {{.path = "/a.bin", .body = big, .len = BIG_LEN, .etag = "\"v1\""}};
    tsup_httpd *s = tsup_httpd_start(r, 1);
    assert_non_null(s);
    char url[128], dest[256];
    dl_item it = item(tsup_httpd_url(s, NULL, "/a.bin", url, sizeof url),
                      in_tmp("cache/model/a.bin", dest, sizeof dest), BIG_LEN, big_sha);
    dl_opts o = test_opts();
    cb_err err = {{0}};
    int rc = dl_fetch(&it, 1, &o, &err);
    if (rc != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(it.status, 0);
    assert_int_equal(it.cached, 0);
    assert_string_equal(it.got_sha256, big_sha);
    assert_string_equal(it.error, "");
    assert_file_is(dest, big, BIG_LEN);
    assert_false(part_exists(dest));
    assert_int_equal(tsup_httpd_hits(s, "/a.bin"), 1);
    assert_string_equal(request_for(s, "/a.bin").range, "");
    tsup_httpd_stop(s);
}

/* 2. The first transfer is cut after 100000 bytes; the retry asks for the
 * rest with Range and the file comes out whole. */
static void test_02_resume_after_cut(void **state)
{
    tsup_route r[] = {{.path = "/cut.bin", .body = big, .len = BIG_LEN, .cut_after = 100000}};
    tsup_httpd *s = tsup_httpd_start(r, 1);
    assert_non_null(s);
    char url[128], dest[256];
    dl_item it = item(tsup_httpd_url(s, NULL, "/cut.bin", url, sizeof url),
                      in_tmp("cut.bin", dest, sizeof dest), BIG_LEN, big_sha);
    dl_opts o = test_opts();
    cb_err err = {{0}};
    if (dl_fetch(&it, 1, &o, &err) != 0)
        fail_msg("%s", err.msg);
    assert_file_is(dest, big, BIG_LEN);
    assert_int_equal(tsup_httpd_hits(s, "/cut.bin"), 2);
    tsup_req q;
    assert_int_equal(tsup_httpd_request(s, 1, &q), 0);
    assert_string_equal(q.range, "bytes=100000-");
    assert_false(part_exists(dest));
    tsup_httpd_stop(s);
}

/* 3. A run that gives up leaves dest.part; the next run resumes it. */
static void test_03_resume_across_runs(void **state)
{
    tsup_route r[] = {{.path = "/cut.bin", .body = big, .len = BIG_LEN, .cut_after = 70000}};
    tsup_httpd *s = tsup_httpd_start(r, 1);
    assert_non_null(s);
    char url[128], dest[256];
    dl_item it = item(tsup_httpd_url(s, NULL, "/cut.bin", url, sizeof url),
                      in_tmp("x/cut.bin", dest, sizeof dest), BIG_LEN, big_sha);
    dl_opts o = test_opts();
    o.max_retries = 0;
    cb_err err = {{0}};
    assert_int_equal(dl_fetch(&it, 1, &o, &err), -1);
    assert_int_equal(it.status, -1);
    assert_false(exists(dest));
    assert_true(part_exists(dest));
    if (!strstr(it.error, "gave up after 1 attempt)"))
        fail_msg("unexpected error: %s", it.error);
    assert_int_equal(dl_fetch(&it, 1, &o, &err), 0);
    assert_file_is(dest, big, BIG_LEN);
    tsup_req q;
    assert_int_equal(tsup_httpd_request(s, 1, &q), 0);
    assert_string_equal(q.range, "bytes=70000-");
    tsup_httpd_stop(s);
}

/* 4. 404: a permanent failure, one request, nothing in the cache. */
static void test_04_not_found(void **state)
{
    tsup_route r[] = {{.path = "/gone.bin", .status = 404}};
    tsup_httpd *s = tsup_httpd_start(r, 1);
    assert_non_null(s);
    char url[128], dest[256];
    dl_item it = item(tsup_httpd_url(s, NULL, "/gone.bin", url, sizeof url),
                      in_tmp("c/gone.bin", dest, sizeof dest), -1, NULL);
    dl_opts o = test_opts();
    cb_err err = {{0}};
    assert_int_equal(dl_fetch(&it, 1, &o, &err), -1);
    assert_int_equal(tsup_httpd_hits(s, "/gone.bin"), 1);
    assert_non_null(strstr(it.error, "HTTP 404"));
    assert_non_null(strstr(it.error, url));
    assert_non_null(strstr(err.msg, "1 of 1 downloads failed"));
    assert_non_null(strstr(err.msg, "HTTP 404"));
    assert_false(exists(dest));
    assert_false(part_exists(dest));
    tsup_httpd_stop(s);
}

/* 5. 500 twice, then the file: retried with backoff and placed. */
static void test_05_server_error_then_success(void **state)
{
    tsup_route r[] = {
        {.path = "/flaky.bin", .body = big, .len = BIG_LEN, .fail_first = 2, .fail_status = 500}};
    tsup_httpd *s = tsup_httpd_start(r, 1);
    assert_non_null(s);
    char url[128], dest[256];
    dl_item it = item(tsup_httpd_url(s, NULL, "/flaky.bin", url, sizeof url),
                      in_tmp("flaky.bin", dest, sizeof dest), BIG_LEN, big_sha);
    dl_opts o = test_opts();
    cb_err err = {{0}};
    if (dl_fetch(&it, 1, &o, &err) != 0)
        fail_msg("%s", err.msg);
    assert_file_is(dest, big, BIG_LEN);
    assert_int_equal(tsup_httpd_hits(s, "/flaky.bin"), 3);
    tsup_httpd_stop(s);
}

/* 6. 429 with Retry-After: 1 — the retry waits that second (the backoff
 * alone would be 20 ms). */
static void test_06_too_many_requests(void **state)
{
    tsup_route r[] = {{.path = "/busy.bin", .body = big, .len = 1000, .fail_first = 1,
                       .fail_status = 429, .retry_after = 1}};
    tsup_httpd *s = tsup_httpd_start(r, 1);
    assert_non_null(s);
    char url[128], dest[256];
    dl_item it = item(tsup_httpd_url(s, NULL, "/busy.bin", url, sizeof url),
                      in_tmp("busy.bin", dest, sizeof dest), 1000, NULL);
    dl_opts o = test_opts();
    cb_err err = {{0}};
    double t0 = now();
    if (dl_fetch(&it, 1, &o, &err) != 0)
        fail_msg("%s", err.msg);
    double dt = now() - t0;
    assert_file_is(dest, big, 1000);
    assert_int_equal(tsup_httpd_hits(s, "/busy.bin"), 2);
    if (dt < 0.9)
        fail_msg("the retry came after %.2f s, before Retry-After's 1 s", dt);
    tsup_httpd_stop(s);
}

/* 7. The server sends other bytes than the pinned sha256: nothing at dest,
 * no .part left, one request only. */
static void test_07_checksum_mismatch(void **state)
{
    tsup_route r[] = {{.path = "/bad.bin", .body = big, .len = BIG_LEN}};
    tsup_httpd *s = tsup_httpd_start(r, 1);
    assert_non_null(s);
    char url[128], dest[256];
    const char *want = "0000000000000000000000000000000000000000000000000000000000000000";
    dl_item it = item(tsup_httpd_url(s, NULL, "/bad.bin", url, sizeof url),
                      in_tmp("bad.bin", dest, sizeof dest), BIG_LEN, want);
    dl_opts o = test_opts();
    cb_err err = {{0}};
    assert_int_equal(dl_fetch(&it, 1, &o, &err), -1);
    assert_non_null(strstr(it.error, "sha256 mismatch"));
    assert_non_null(strstr(it.error, big_sha));
    assert_string_equal(it.got_sha256, "");
    assert_false(exists(dest));
    assert_false(part_exists(dest));
    assert_int_equal(tsup_httpd_hits(s, "/bad.bin"), 1);
    tsup_httpd_stop(s);
}

/* 8. A server that sends headers and then nothing: the low-speed timeout
 * ends the transfer within a few seconds instead of hanging for 20. */
static void test_08_stalled_server(void **state)
{
    tsup_route r[] = {{.path = "/slow.bin", .body = big, .len = BIG_LEN, .stall_s = 20}};
    tsup_httpd *s = tsup_httpd_start(r, 1);
    assert_non_null(s);
    char url[128], dest[256];
    dl_item it = item(tsup_httpd_url(s, NULL, "/slow.bin", url, sizeof url),
                      in_tmp("slow.bin", dest, sizeof dest), BIG_LEN, big_sha);
    dl_opts o = test_opts();
    o.max_retries = 1;
    o.low_speed_limit = 1000;
    o.low_speed_time_s = 1;
    cb_err err = {{0}};
    double t0 = now();
    assert_int_equal(dl_fetch(&it, 1, &o, &err), -1);
    double dt = now() - t0;
    if (dt > 10)
        fail_msg("a stalled server held the download for %.1f s", dt);
    if (!strstr(it.error, "Timeout was reached") || !strstr(it.error, "gave up after 2 attempts"))
        fail_msg("unexpected error: %s", it.error);
    assert_int_equal(tsup_httpd_hits(s, "/slow.bin"), 2);
    assert_false(exists(dest));
    assert_false(part_exists(dest)); /* it was empty */
    tsup_httpd_stop(s);
}

/* 9. A redirect on the same host is followed. */
static void test_09_redirect(void **state)
{
    tsup_route r[] = {{.path = "/resolve/main/a.bin", .redirect_path = "/cdn/a.bin"},
                      {.path = "/cdn/a.bin", .body = big, .len = BIG_LEN}};
    tsup_httpd *s = tsup_httpd_start(r, 2);
    assert_non_null(s);
    char url[128], dest[256];
    dl_item it = item(tsup_httpd_url(s, NULL, "/resolve/main/a.bin", url, sizeof url),
                      in_tmp("a.bin", dest, sizeof dest), BIG_LEN, big_sha);
    dl_opts o = test_opts();
    cb_err err = {{0}};
    if (dl_fetch(&it, 1, &o, &err) != 0)
        fail_msg("%s", err.msg);
    assert_file_is(dest, big, BIG_LEN);
    assert_int_equal(tsup_httpd_hits(s, "/resolve/main/a.bin"), 1);
    assert_int_equal(tsup_httpd_hits(s, "/cdn/a.bin"), 1);
    tsup_httpd_stop(s);
}

/* 10. The token goes to the origin host, and not to the redirect target on
 * another host (localhost vs 127.0.0.1). */
static void test_10_token_not_sent_to_redirect_host(void **state)
{
    tsup_route r[] = {
        {.path = "/gated.bin", .redirect_path = "/cdn/gated.bin", .redirect_host = "localhost"},
        {.path = "/cdn/gated.bin", .body = big, .len = BIG_LEN}};
    tsup_httpd *s = tsup_httpd_start(r, 2);
    assert_non_null(s);
    char url[128], dest[256];
    dl_item it = item(tsup_httpd_url(s, NULL, "/gated.bin", url, sizeof url),
                      in_tmp("gated.bin", dest, sizeof dest), BIG_LEN, big_sha);
    dl_opts o = test_opts();
    o.token = TOKEN;
    o.token_host = "127.0.0.1";
    cb_err err = {{0}};
    if (dl_fetch(&it, 1, &o, &err) != 0)
        fail_msg("%s", err.msg);
    assert_file_is(dest, big, BIG_LEN);
    tsup_req origin = request_for(s, "/gated.bin");
    tsup_req target = request_for(s, "/cdn/gated.bin");
    assert_string_equal(origin.auth, "Bearer " TOKEN);
    assert_true(strncmp(target.host, "localhost:", 10) == 0);
    assert_string_equal(target.auth, "");
    tsup_httpd_stop(s);
}

/* 11. No token to a host other than token_host (e.g. a mirror). */
static void test_11_token_only_to_its_host(void **state)
{
    tsup_route r[] = {{.path = "/m.bin", .body = big, .len = 5000}};
    tsup_httpd *s = tsup_httpd_start(r, 1);
    assert_non_null(s);
    char url[128], dest[256];
    dl_item it = item(tsup_httpd_url(s, NULL, "/m.bin", url, sizeof url),
                      in_tmp("m.bin", dest, sizeof dest), 5000, NULL);
    dl_opts o = test_opts();
    o.token = TOKEN;
    o.token_host = "huggingface.co";
    cb_err err = {{0}};
    if (dl_fetch(&it, 1, &o, &err) != 0)
        fail_msg("%s", err.msg);
    assert_string_equal(request_for(s, "/m.bin").auth, "");
    tsup_httpd_stop(s);
}

/* 12. 401 and 403: permanent, one request each, the HF_TOKEN hint, and the
 * token appears in no message. */
static void test_12_unauthorised(void **state)
{
    tsup_route r[] = {{.path = "/401.bin", .status = 401}, {.path = "/403.bin", .status = 403}};
    tsup_httpd *s = tsup_httpd_start(r, 2);
    assert_non_null(s);
    char u1[128], u2[128], d1[256], d2[256];
    dl_item it[2] = {item(tsup_httpd_url(s, NULL, "/401.bin", u1, sizeof u1),
                          in_tmp("401.bin", d1, sizeof d1), -1, NULL),
                     item(tsup_httpd_url(s, NULL, "/403.bin", u2, sizeof u2),
                          in_tmp("403.bin", d2, sizeof d2), -1, NULL)};
    dl_opts o = test_opts();
    o.token = TOKEN;
    o.token_host = "127.0.0.1";
    cb_err err = {{0}};
    assert_int_equal(dl_fetch(it, 2, &o, &err), -1);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(it[i].status, -1);
        if (!strstr(it[i].error, "HF_TOKEN"))
            fail_msg("no HF_TOKEN hint in: %s", it[i].error);
        assert_null(strstr(it[i].error, TOKEN));
    }
    assert_non_null(strstr(it[0].error, "401"));
    assert_non_null(strstr(it[1].error, "403"));
    assert_non_null(strstr(err.msg, "2 of 2 downloads failed"));
    assert_null(strstr(err.msg, TOKEN));
    assert_int_equal(tsup_httpd_hits(s, "/401.bin"), 1);
    assert_int_equal(tsup_httpd_hits(s, "/403.bin"), 1);
    assert_string_equal(request_for(s, "/401.bin").auth, "Bearer " TOKEN);
    assert_false(exists(d1));
    assert_false(exists(d2));
    tsup_httpd_stop(s);
}

/* 13. Offline: a file in the cache (right sha256) is fine; one that is not
 * fails with a clear message; the network is not touched. */
static void test_13_offline(void **state)
{
    tsup_route r[] = {{.path = "/a.bin", .body = big, .len = BIG_LEN}};
    tsup_httpd *s = tsup_httpd_start(r, 1);
    assert_non_null(s);
    char url[128], have[256], missing[256];
    tsup_httpd_url(s, NULL, "/a.bin", url, sizeof url);
    write_file(in_tmp("have.bin", have, sizeof have), big, BIG_LEN);
    in_tmp("missing.bin", missing, sizeof missing);
    dl_item it[2] = {item(url, have, BIG_LEN, big_sha), item(url, missing, BIG_LEN, big_sha)};
    dl_opts o = test_opts();
    o.offline = 1;
    cb_err err = {{0}};
    assert_int_equal(dl_fetch(it, 1, &o, &err), 0);
    assert_int_equal(it[0].status, 0);
    assert_int_equal(it[0].cached, 1);
    assert_string_equal(it[0].got_sha256, big_sha);
    assert_int_equal(dl_fetch(it, 2, &o, &err), -1);
    assert_int_equal(it[0].status, 0);
    assert_int_equal(it[1].status, -1);
    if (!strstr(it[1].error, "not in the cache") || !strstr(it[1].error, "offline") ||
        !strstr(it[1].error, missing))
        fail_msg("unclear offline error: %s", it[1].error);
    assert_false(exists(missing));
    assert_false(part_exists(missing));

    /* A cached file with other bytes: refused, and left as it is. */
    write_file(missing, big + 1, BIG_LEN - 1);
    assert_int_equal(dl_fetch(&it[1], 1, &o, &err), -1);
    if (!strstr(it[1].error, "not the expected one"))
        fail_msg("unclear offline error: %s", it[1].error);
    assert_file_is(missing, big + 1, BIG_LEN - 1);
    assert_int_equal(tsup_httpd_hits(s, NULL), 0);
    tsup_httpd_stop(s);
}

/* 14. Online cache hits: a right file is not downloaded again; a wrong one
 * (same size, other bytes) is replaced; without a sha256 an existing file
 * counts as done. */
static void test_14_cache_hit_and_stale(void **state)
{
    tsup_route r[] = {{.path = "/a.bin", .body = big, .len = BIG_LEN}};
    tsup_httpd *s = tsup_httpd_start(r, 1);
    assert_non_null(s);
    char url[128], dest[256];
    tsup_httpd_url(s, NULL, "/a.bin", url, sizeof url);
    write_file(in_tmp("a.bin", dest, sizeof dest), big, BIG_LEN);
    dl_item it = item(url, dest, BIG_LEN, big_sha);
    dl_opts o = test_opts();
    cb_err err = {{0}};
    assert_int_equal(dl_fetch(&it, 1, &o, &err), 0);
    assert_int_equal(it.cached, 1);
    assert_int_equal(tsup_httpd_hits(s, NULL), 0);

    unsigned char *wrong = calloc(1, BIG_LEN);
    assert_non_null(wrong);
    write_file(dest, wrong, BIG_LEN);
    if (dl_fetch(&it, 1, &o, &err) != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(it.cached, 0);
    assert_file_is(dest, big, BIG_LEN);
    assert_int_equal(tsup_httpd_hits(s, NULL), 1);

    write_file(dest, wrong, 100);
    dl_item nosha = item(url, dest, -1, NULL);
    assert_int_equal(dl_fetch(&nosha, 1, &o, &err), 0);
    assert_int_equal(nosha.cached, 1);
    char sha[CB_SHA256_HEX_LEN];
    cb_sha256_hex(wrong, 100, sha);
    assert_string_equal(nosha.got_sha256, sha);
    assert_int_equal(tsup_httpd_hits(s, NULL), 1);
    free(wrong);
    tsup_httpd_stop(s);
}

/* 15. file:// URLs, from scratch and resuming a partial. */
static void test_15_file_url(void **state)
{
    char src[256], url[300], dest[256], part[300];
    write_file(in_tmp("src.bin", src, sizeof src), big, BIG_LEN);
    snprintf(url, sizeof url, "file://%s", src);
    dl_item it = item(url, in_tmp("out/f.bin", dest, sizeof dest), BIG_LEN, big_sha);
    dl_opts o = test_opts();
    cb_err err = {{0}};
    if (dl_fetch(&it, 1, &o, &err) != 0)
        fail_msg("%s", err.msg);
    assert_file_is(dest, big, BIG_LEN);

    unlink(dest);
    snprintf(part, sizeof part, "%s.part", dest);
    write_file(part, big, 12345);
    if (dl_fetch(&it, 1, &o, &err) != 0)
        fail_msg("%s", err.msg);
    assert_file_is(dest, big, BIG_LEN);
    assert_false(exists(part));

    char nope[300];
    snprintf(nope, sizeof nope, "file://%s/nope.bin", tmp);
    dl_item missing = item(nope, in_tmp("nope.bin", dest, sizeof dest), -1, NULL);
    assert_int_equal(dl_fetch(&missing, 1, &o, &err), -1);
    assert_false(exists(dest));
}

/* 16. Six files, three at a time, one of them retried: all placed, right. */
static void test_16_parallel(void **state)
{
    enum { N = 6 };
    tsup_route r[N];
    char paths[N][32], urls[N][128], dests[N][256], shas[N][CB_SHA256_HEX_LEN];
    dl_item it[N];
    for (int i = 0; i < N; i++) {
        snprintf(paths[i], sizeof paths[i], "/p%d.bin", i);
        size_t len = 20000 + 30000 * (size_t)i;
        r[i] = (tsup_route){.path = paths[i], .body = big + i, .len = len,
                            .fail_first = i == 2, .fail_status = 503};
        cb_sha256_hex(big + i, len, shas[i]);
    }
    tsup_httpd *s = tsup_httpd_start(r, N);
    assert_non_null(s);
    for (int i = 0; i < N; i++) {
        char name[32];
        snprintf(name, sizeof name, "par/p%d.bin", i);
        it[i] = item(tsup_httpd_url(s, NULL, paths[i], urls[i], sizeof urls[i]),
                     in_tmp(name, dests[i], sizeof dests[i]), (int64_t)r[i].len, shas[i]);
    }
    dl_opts o = test_opts();
    o.parallel = 3;
    cb_err err = {{0}};
    if (dl_fetch(it, N, &o, &err) != 0)
        fail_msg("%s", err.msg);
    for (int i = 0; i < N; i++) {
        assert_int_equal(it[i].status, 0);
        assert_string_equal(it[i].got_sha256, shas[i]);
        assert_file_is(dests[i], big + i, r[i].len);
        assert_int_equal(tsup_httpd_hits(s, paths[i]), i == 2 ? 2 : 1);
    }
    tsup_httpd_stop(s);
}

/* 17. The server's size is not the expected size: permanent, nothing placed. */
static void test_17_size_mismatch(void **state)
{
    tsup_route r[] = {{.path = "/a.bin", .body = big, .len = BIG_LEN}};
    tsup_httpd *s = tsup_httpd_start(r, 1);
    assert_non_null(s);
    char url[128], dest[256];
    dl_item it = item(tsup_httpd_url(s, NULL, "/a.bin", url, sizeof url),
                      in_tmp("a.bin", dest, sizeof dest), BIG_LEN + 1, NULL);
    dl_opts o = test_opts();
    cb_err err = {{0}};
    assert_int_equal(dl_fetch(&it, 1, &o, &err), -1);
    if (!strstr(it.error, "size mismatch"))
        fail_msg("unexpected error: %s", it.error);
    assert_int_equal(tsup_httpd_hits(s, "/a.bin"), 1);
    assert_false(exists(dest));
    assert_false(part_exists(dest));
    tsup_httpd_stop(s);
}

/* 18. A server that ignores Range answers 200: the partial is dropped and
 * the whole body written from 0 (not appended). */
static void test_18_range_ignored(void **state)
{
    tsup_route r[] = {{.path = "/a.bin", .body = big, .len = BIG_LEN, .ignore_range = 1}};
    tsup_httpd *s = tsup_httpd_start(r, 1);
    assert_non_null(s);
    char url[128], dest[256], part[300];
    in_tmp("a.bin", dest, sizeof dest);
    snprintf(part, sizeof part, "%s.part", dest);
    write_file(part, big, 5000);
    dl_item it = item(tsup_httpd_url(s, NULL, "/a.bin", url, sizeof url), dest, BIG_LEN, big_sha);
    dl_opts o = test_opts();
    cb_err err = {{0}};
    if (dl_fetch(&it, 1, &o, &err) != 0)
        fail_msg("%s", err.msg);
    assert_file_is(dest, big, BIG_LEN);
    assert_string_equal(request_for(s, "/a.bin").range, "bytes=5000-");
    assert_int_equal(tsup_httpd_hits(s, "/a.bin"), 1);
    tsup_httpd_stop(s);
}

/* 19. A partial larger than the expected size is discarded: no Range sent. */
static void test_19_partial_too_large(void **state)
{
    tsup_route r[] = {{.path = "/a.bin", .body = big, .len = 1000}};
    tsup_httpd *s = tsup_httpd_start(r, 1);
    assert_non_null(s);
    char url[128], dest[256], part[300];
    in_tmp("a.bin", dest, sizeof dest);
    snprintf(part, sizeof part, "%s.part", dest);
    write_file(part, big, 2000);
    dl_item it = item(tsup_httpd_url(s, NULL, "/a.bin", url, sizeof url), dest, 1000, NULL);
    dl_opts o = test_opts();
    cb_err err = {{0}};
    if (dl_fetch(&it, 1, &o, &err) != 0)
        fail_msg("%s", err.msg);
    assert_file_is(dest, big, 1000);
    assert_string_equal(request_for(s, "/a.bin").range, "");
    tsup_httpd_stop(s);
}

/* 20. A stale partial (wrong bytes) resumed gives a sha256 mismatch: the
 * engine starts once more from 0 and gets the right file. */
static void test_20_stale_partial(void **state)
{
    tsup_route r[] = {{.path = "/a.bin", .body = big, .len = BIG_LEN}};
    tsup_httpd *s = tsup_httpd_start(r, 1);
    assert_non_null(s);
    char url[128], dest[256], part[300];
    in_tmp("a.bin", dest, sizeof dest);
    snprintf(part, sizeof part, "%s.part", dest);
    unsigned char junk[5000];
    memset(junk, 0x5a, sizeof junk);
    write_file(part, junk, sizeof junk);
    dl_item it = item(tsup_httpd_url(s, NULL, "/a.bin", url, sizeof url), dest, BIG_LEN, big_sha);
    dl_opts o = test_opts();
    cb_err err = {{0}};
    if (dl_fetch(&it, 1, &o, &err) != 0)
        fail_msg("%s", err.msg);
    assert_file_is(dest, big, BIG_LEN);
    tsup_req q0, q1;
    assert_int_equal(tsup_httpd_request(s, 0, &q0), 0);
    assert_int_equal(tsup_httpd_request(s, 1, &q1), 0);
    assert_string_equal(q0.range, "bytes=5000-");
    assert_string_equal(q1.range, "");
    tsup_httpd_stop(s);
}

/* 21. Always 500: gives up after 1 + max_retries requests. */
static void test_21_gives_up(void **state)
{
    tsup_route r[] = {{.path = "/down.bin", .status = 500}};
    tsup_httpd *s = tsup_httpd_start(r, 1);
    assert_non_null(s);
    char url[128], dest[256];
    dl_item it = item(tsup_httpd_url(s, NULL, "/down.bin", url, sizeof url),
                      in_tmp("down.bin", dest, sizeof dest), -1, NULL);
    dl_opts o = test_opts();
    o.max_retries = 2;
    cb_err err = {{0}};
    assert_int_equal(dl_fetch(&it, 1, &o, &err), -1);
    if (!strstr(it.error, "HTTP 500") || !strstr(it.error, "gave up after 3 attempts"))
        fail_msg("unexpected error: %s", it.error);
    assert_int_equal(tsup_httpd_hits(s, "/down.bin"), 3);
    assert_false(exists(dest));
    assert_false(part_exists(dest));
    tsup_httpd_stop(s);
}

/* 22. Nothing listening: a connection error, retried, then a clear failure. */
static void test_22_connection_refused(void **state)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
    close(fd); /* the port is now (very likely) closed */
    char url[128], dest[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/x.bin", ntohs(a.sin_port));
    dl_item it = item(url, in_tmp("x.bin", dest, sizeof dest), -1, NULL);
    dl_opts o = test_opts();
    o.max_retries = 1;
    cb_err err = {{0}};
    assert_int_equal(dl_fetch(&it, 1, &o, &err), -1);
    if (!strstr(it.error, "onnect") || !strstr(it.error, "gave up after 2 attempts"))
        fail_msg("unexpected error: %s", it.error);
    assert_false(exists(dest));
}

/* 23. Messages carry no credentials from the URL; bad items are refused. */
static void test_23_messages_and_bad_items(void **state)
{
    char out[256];
    dl_url_for_message("https://user:pw@example.org/a/b.bin?token=abc#x", out, sizeof out);
    assert_string_equal(out, "https://example.org/a/b.bin");
    dl_url_for_message("::not a url", out, sizeof out);
    assert_string_equal(out, "(malformed URL)");

    char d[256];
    dl_item two[2] = {item("file:///dev/null", in_tmp("same", d, sizeof d), -1, NULL),
                      item("file:///dev/null", d, -1, NULL)};
    cb_err err = {{0}};
    assert_int_equal(dl_fetch(two, 2, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "destination of two items"));

    dl_item nourl = item(NULL, d, -1, NULL);
    assert_int_equal(dl_fetch(&nourl, 1, NULL, &err), -1);
    assert_non_null(strstr(nourl.error, "without a URL"));
}

/* 24. The progress line and the event lines: shown on the log, and the
 * token in none of them (a request with it, one without, one failing). */
static void test_24_log_without_token(void **state)
{
    tsup_route r[] = {
        {.path = "/gated.bin", .redirect_path = "/cdn/gated.bin", .redirect_host = "localhost"},
        {.path = "/cdn/gated.bin", .body = big, .len = BIG_LEN},
        {.path = "/401.bin", .status = 401}};
    tsup_httpd *s = tsup_httpd_start(r, 3);
    assert_non_null(s);
    for (int progress = 0; progress < 2; progress++) {
        char u1[128], u2[128], d1[256], d2[256];
        char *text = NULL;
        size_t len = 0;
        FILE *log = open_memstream(&text, &len);
        assert_non_null(log);
        dl_item it[2] = {item(tsup_httpd_url(s, NULL, "/gated.bin", u1, sizeof u1),
                              in_tmp(progress ? "p1/g.bin" : "p0/g.bin", d1, sizeof d1), BIG_LEN,
                              big_sha),
                         item(tsup_httpd_url(s, NULL, "/401.bin", u2, sizeof u2),
                              in_tmp("401.bin", d2, sizeof d2), -1, NULL)};
        dl_opts o = test_opts();
        o.token = TOKEN;
        o.token_host = "127.0.0.1";
        o.progress = progress;
        o.log = log;
        cb_err err = {{0}};
        assert_int_equal(dl_fetch(it, 2, &o, &err), -1);
        fclose(log);
        assert_int_equal(it[0].status, 0);
        assert_null(strstr(text, TOKEN));
        assert_null(strstr(err.msg, TOKEN));
        assert_non_null(strstr(text, "HF_TOKEN"));
        if (progress)
            assert_non_null(strstr(text, "of 2 files"));
        else
            assert_non_null(strstr(text, "placed"));
        free(text);
    }
    tsup_httpd_stop(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_01_plain_fetch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_02_resume_after_cut, setup, teardown),
        cmocka_unit_test_setup_teardown(test_03_resume_across_runs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_04_not_found, setup, teardown),
        cmocka_unit_test_setup_teardown(test_05_server_error_then_success, setup, teardown),
        cmocka_unit_test_setup_teardown(test_06_too_many_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_07_checksum_mismatch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_08_stalled_server, setup, teardown),
        cmocka_unit_test_setup_teardown(test_09_redirect, setup, teardown),
        cmocka_unit_test_setup_teardown(test_10_token_not_sent_to_redirect_host, setup, teardown),
        cmocka_unit_test_setup_teardown(test_11_token_only_to_its_host, setup, teardown),
        cmocka_unit_test_setup_teardown(test_12_unauthorised, setup, teardown),
        cmocka_unit_test_setup_teardown(test_13_offline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_14_cache_hit_and_stale, setup, teardown),
        cmocka_unit_test_setup_teardown(test_15_file_url, setup, teardown),
        cmocka_unit_test_setup_teardown(test_16_parallel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_17_size_mismatch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_18_range_ignored, setup, teardown),
        cmocka_unit_test_setup_teardown(test_19_partial_too_large, setup, teardown),
        cmocka_unit_test_setup_teardown(test_20_stale_partial, setup, teardown),
        cmocka_unit_test_setup_teardown(test_21_gives_up, setup, teardown),
        cmocka_unit_test_setup_teardown(test_22_connection_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_23_messages_and_bad_items, setup, teardown),
        cmocka_unit_test_setup_teardown(test_24_log_without_token, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
