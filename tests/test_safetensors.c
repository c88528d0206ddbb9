/* tests/test_safetensors.c — models/safetensors.c: the f16 / bf16 conversions
 * it uses (operators/lowp.h) on hand-made bit patterns, st_write round trips,
 * sharded sets, and every malformed file the reader must refuse (each refusal
 * must name the file and the tensor).
 *
 * Files go to a fresh mkdtemp folder removed at the end.  Malformed files are
 * built byte by byte with write_raw(), never through st_write.
 * Never: depend on files outside tests/fixtures or on the network. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "models/safetensors.h"
#include "operators/lowp.h"

static char tmpdir[] = "/tmp/ctxbench-st-XXXXXX";

static int setup(void **state)
{
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    DIR *d = opendir(tmpdir);
    struct dirent *e;
    char p[512];
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.') {
            snprintf(p, sizeof p, "%s/%s", tmpdir, e->d_name);
            unlink(p);
        }
    if (d)
        closedir(d);
    rmdir(tmpdir);
    return 0;
}

/* tmp path for a file name (static buffer rotation: up to 4 live at once). */
static const char *tpath(const char *name)
{
    static char bufs[4][512];
    static int at;
    char *b = bufs[at++ % 4];
    snprintf(b, 512, "%s/%s", tmpdir, name);
    return b;
}

/* Writes an 8-byte header length (hlen, or strlen(header) when hlen < 0),
 * the header text and dlen data bytes (zeros). */
static const char *write_raw(const char *name, const char *header, int64_t hlen, size_t dlen)
{
    const char *p = tpath(name);
    FILE *fp = fopen(p, "wb");
    assert_non_null(fp);
    uint64_t n = hlen < 0 ? strlen(header) : (uint64_t)hlen;
    for (int i = 0; i < 8; i++)
        fputc((int)((n >> (8 * i)) & 0xff), fp);
    fputs(header, fp);
    for (size_t i = 0; i < dlen; i++)
        fputc(0, fp);
    assert_int_equal(fclose(fp), 0);
    return p;
}

/* The file at path must be refused with a message containing each of the
 * NULL-terminated strings given. */
static void expect_refused(const char *path, ...)
{
    cb_err err = {{0}};
    st_file *f = st_file_open(path, &err);
    if (f) {
        st_file_close(f);
        fail_msg("%s: opened, want a refusal", path);
    }
    if (!strstr(err.msg, path))
        fail_msg("error does not name the file: %s", err.msg);
    va_list ap;
    va_start(ap, path);
    for (const char *s; (s = va_arg(ap, const char *));)
        if (!strstr(err.msg, s))
            fail_msg("error lacks '%s': %s", s, err.msg);
    va_end(ap);
}

static uint32_t bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

/* ---- conversions ------------------------------------------------------------ */

static void test_01_dtype_names_and_sizes(void **state)
{
    assert_string_equal(st_dtype_name(ST_BF16), "BF16");
    assert_string_equal(st_dtype_name(ST_F8_E4M3), "F8_E4M3");
    assert_string_equal(st_dtype_name((st_dtype)99), "?");
    assert_int_equal(st_dtype_size(ST_F32), 4);
    assert_int_equal(st_dtype_size(ST_F16), 2);
    assert_int_equal(st_dtype_size(ST_I64), 8);
    assert_int_equal(st_dtype_size(ST_BOOL), 1);
    assert_int_equal(st_dtype_size(ST_ANY), 0);
}

static void test_02_f16_bit_patterns(void **state)
{
    static const struct {
        uint16_t h;
        uint32_t f; /* expected f32 bits */
    } cases[] = {
        {0x0000, 0x00000000}, /* +0 */
        {0x8000, 0x80000000}, /* -0 */
        {0x3c00, 0x3f800000}, /* 1 */
        {0xc000, 0xc0000000}, /* -2 */
        {0x3555, 0x3eaaa000}, /* 0.333251953125 */
        {0x7bff, 0x477fe000}, /* 65504, largest finite */
        {0x0400, 0x38800000}, /* 2^-14, smallest normal */
        {0x0001, 0x33800000}, /* 2^-24, smallest subnormal */
        {0x8001, 0xb3800000}, /* -2^-24 */
        {0x0200, 0x38000000}, /* 2^-15, subnormal */
        {0x03ff, 0x387fc000}, /* largest subnormal, 1023 x 2^-24 */
        {0x7c00, 0x7f800000}, /* +inf */
        {0xfc00, 0xff800000}, /* -inf */
        {0x7e00, 0x7fc00000}, /* quiet NaN */
        {0x7c01, 0x7f802000}, /* signalling NaN, payload kept */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint32_t got = bits(op_f16_to_f32(cases[i].h));
        if (got != cases[i].f)
            fail_msg("f16 0x%04x -> 0x%08x, want 0x%08x", cases[i].h, got, cases[i].f);
    }
    assert_true(isnan(op_f16_to_f32(0xfe00)));
    assert_true(op_f16_to_f32(0x0001) == ldexpf(1, -24));
}

static void test_03_bf16_bit_patterns(void **state)
{
    assert_true(op_bf16_to_f32(0x3f80) == 1.0f);
    assert_true(op_bf16_to_f32(0x4049) == 3.140625f);
    assert_true(op_bf16_to_f32(0xbf80) == -1.0f);
    assert_true(op_bf16_to_f32(0x0001) == ldexpf(1, -133)); /* smallest subnormal */
    assert_true(op_bf16_to_f32(0x007f) == 127 * ldexpf(1, -133));
    assert_int_equal(bits(op_bf16_to_f32(0x8000)), 0x80000000u);
    assert_true(isinf(op_bf16_to_f32(0x7f80)) && op_bf16_to_f32(0x7f80) > 0);
    assert_true(isinf(op_bf16_to_f32(0xff80)) && op_bf16_to_f32(0xff80) < 0);
    assert_true(isnan(op_bf16_to_f32(0x7fc0)));
    assert_int_equal(bits(op_bf16_to_f32(0x7f81)), 0x7f810000u);
}

static void test_04_f32_to_half_rounding_and_all_patterns(void **state)
{
    /* Every non-NaN pattern survives half -> f32 -> half. */
    for (uint32_t h = 0; h < 0x10000; h++) {
        if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff))
            continue;
        if (op_f32_to_f16(op_f16_to_f32((uint16_t)h)) != h)
            fail_msg("f16 0x%04x does not round-trip", h);
        if (((h & 0x7f80) != 0x7f80 || !(h & 0x7f)) &&
            op_f32_to_bf16(op_bf16_to_f32((uint16_t)h)) != h)
            fail_msg("bf16 0x%04x does not round-trip", h);
    }
    /* Ties go to even; overflow goes to infinity. */
    assert_int_equal(op_f32_to_f16(1.0f + ldexpf(1, -11)), 0x3c00);
    assert_int_equal(op_f32_to_f16(1.0f + 3 * ldexpf(1, -11)), 0x3c02);
    assert_int_equal(op_f32_to_f16(65519.0f), 0x7bff);
    assert_int_equal(op_f32_to_f16(65520.0f), 0x7c00);
    assert_int_equal(op_f32_to_f16(-1e9f), 0xfc00);
    assert_int_equal(op_f32_to_f16(ldexpf(1, -25)), 0x0000);     /* tie to even: 0 */
    assert_int_equal(op_f32_to_f16(3 * ldexpf(1, -25)), 0x0002); /* tie to even: 2 */
    assert_int_equal(op_f32_to_f16(ldexpf(1, -14) - ldexpf(1, -26)), 0x0400); /* rounds up */
    assert_int_equal(op_f32_to_bf16(1.0f + ldexpf(1, -8)), 0x3f80);
    assert_int_equal(op_f32_to_bf16(1.0f + 3 * ldexpf(1, -8)), 0x3f82);
    assert_true(isnan(op_f16_to_f32(op_f32_to_f16(NAN))));
    assert_true(isnan(op_bf16_to_f32(op_f32_to_bf16(NAN))));
}

/* ---- round trips -------------------------------------------------------------- */

static const float vals[6] = {1.0f, -2.5f, 0.125f, 65280.0f, 0.0f, -0.0009765625f};

/* Writes f32, f16 and bf16 copies of vals (shape [2,3]) plus a scalar, an
 * empty tensor and an I64 tensor to path. */
static void write_sample(const char *path, const char *prefix)
{
    static uint16_t h[6], b[6];
    static const int64_t i64[2] = {7, -7};
    static const float scalar = 42.0f;
    for (int i = 0; i < 6; i++) {
        h[i] = op_f32_to_f16(vals[i]);
        b[i] = op_f32_to_bf16(vals[i]);
    }
    char names[6][64];
    const char *sfx[6] = {"f32", "f16", "bf16", "scalar", "empty", "i64"};
    for (int i = 0; i < 6; i++)
        snprintf(names[i], sizeof names[i], "%s%s", prefix, sfx[i]);
    st_tensor ts[6] = {
        {.name = names[0], .dtype = ST_F32, .ndims = 2, .shape = {2, 3}, .data = vals, .nbytes = 24},
        {.name = names[1], .dtype = ST_F16, .ndims = 2, .shape = {2, 3}, .data = h, .nbytes = 12},
        {.name = names[2], .dtype = ST_BF16, .ndims = 2, .shape = {2, 3}, .data = b, .nbytes = 12},
        {.name = names[3], .dtype = ST_F32, .ndims = 0, .data = &scalar, .nbytes = 4},
        {.name = names[4], .dtype = ST_BF16, .ndims = 2, .shape = {0, 5}, .data = NULL, .nbytes = 0},
        {.name = names[5], .dtype = ST_I64, .ndims = 1, .shape = {2}, .data = i64, .nbytes = 16},
    };
    cb_err err = {{0}};
    if (st_write(path, ts, 6, "{\"format\": \"pt\", \"by\": \"test\"}", &err) < 0)
        fail_msg("%s", err.msg);
}

static void test_05_round_trip_f32_f16_bf16(void **state)
{
    const char *p = tpath("rt.safetensors");
    write_sample(p, "w.");
    cb_err err = {{0}};
    st_file *f = st_file_open(p, &err);
    if (!f)
        fail_msg("%s", err.msg);
    assert_int_equal(st_file_count(f), 6);
    assert_string_equal(st_file_tensor(f, 0)->name, "w.bf16"); /* name order */
    assert_null(st_file_tensor(f, 6));
    assert_string_equal(json_string_value(json_object_get(st_file_metadata(f), "by")), "test");
    float out[6];
    const char *names[3] = {"w.f32", "w.f16", "w.bf16"};
    for (int k = 0; k < 3; k++) {
        const st_tensor *t = st_file_find(f, names[k]);
        assert_non_null(t);
        assert_int_equal(t->ndims, 2);
        assert_int_equal(t->shape[0], 2);
        assert_int_equal(t->shape[1], 3);
        assert_int_equal(t->nelems, 6);
        assert_string_equal(t->file, p);
        assert_int_equal(st_to_f32(t, out, 6, &err), 0);
        for (int i = 0; i < 6; i++) /* all of vals are exact in each format */
            assert_true(out[i] == vals[i]);
    }
    const st_tensor *s = st_file_find(f, "w.scalar");
    assert_int_equal(s->ndims, 0);
    assert_int_equal(s->nelems, 1);
    assert_int_equal(st_to_f32(s, out, 1, &err), 0);
    assert_true(out[0] == 42.0f);
    const st_tensor *e = st_file_find(f, "w.empty");
    assert_int_equal(e->nelems, 0);
    assert_int_equal(e->nbytes, 0);
    assert_int_equal(st_to_f32(e, out, 0, &err), 0);
    assert_null(st_file_find(f, "w.nope"));
    st_file_close(f);
    st_file_close(NULL);
}

static void test_06_to_f32_refusals_name_the_tensor(void **state)
{
    const char *p = tpath("refuse.safetensors");
    write_sample(p, "x.");
    cb_err err = {{0}};
    st_file *f = st_file_open(p, &err);
    assert_non_null(f);
    float out[6];
    assert_int_equal(st_to_f32(st_file_find(f, "x.i64"), out, 2, &err), -1);
    assert_non_null(strstr(err.msg, "x.i64"));
    assert_non_null(strstr(err.msg, "I64"));
    assert_non_null(strstr(err.msg, p));
    assert_int_equal(st_to_f32(st_file_find(f, "x.f32"), out, 5, &err), -1);
    assert_non_null(strstr(err.msg, "x.f32"));
    st_file_close(f);
}

static void test_07_fixture_file(void **state)
{
    cb_err err = {{0}};
    st_file *f = st_file_open("tests/fixtures/safetensors/tiny.safetensors", &err);
    if (!f)
        fail_msg("%s", err.msg);
    float out[6];
    assert_int_equal(st_to_f32(st_file_find(f, "w.f16"), out, 3, &err), 0);
    assert_true(out[0] == 1.0f && out[1] == ldexpf(1, -24) && isinf(out[2]));
    assert_int_equal(st_to_f32(st_file_find(f, "w.bf16"), out, 2, &err), 0);
    assert_true(out[0] == 1.0f && isinf(out[1]) && out[1] < 0);
    st_file_close(f);
}

static void test_08_write_refuses_bad_tensors(void **state)
{
    float x[2] = {0};
    st_tensor bad = {.name = "bad", .dtype = ST_F32, .ndims = 1, .shape = {3}, .data = x,
                     .nbytes = 8};
    cb_err err = {{0}};
    const char *p = tpath("notwritten.safetensors");
    assert_int_equal(st_write(p, &bad, 1, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "bad"));
    assert_int_equal(access(p, F_OK), -1);
    st_tensor dup[2] = {
        {.name = "d", .dtype = ST_F32, .ndims = 1, .shape = {2}, .data = x, .nbytes = 8},
        {.name = "d", .dtype = ST_F32, .ndims = 1, .shape = {2}, .data = x, .nbytes = 8},
    };
    assert_int_equal(st_write(p, dup, 2, NULL, &err), -1);
    assert_int_equal(st_write(p, dup, 1, "[1]", &err), -1);
    assert_int_equal(access(p, F_OK), -1);
}

/* ---- sets ---------------------------------------------------------------------- */

static void write_index(const char *name, const char *text)
{
    FILE *fp = fopen(tpath(name), "w");
    assert_non_null(fp);
    fputs(text, fp);
    assert_int_equal(fclose(fp), 0);
}

static void test_09_set_of_one_file_and_folder(void **state)
{
    write_sample(tpath("model.safetensors"), "m.");
    cb_err err = {{0}};
    st_set *s = st_set_open(tmpdir, &err); /* no index here yet: model.safetensors */
    if (!s)
        fail_msg("%s", err.msg);
    assert_int_equal(st_set_count(s), 6);
    assert_non_null(st_find(s, "m.f16"));
    assert_string_equal(st_set_tensor(s, 0)->name, "m.bf16");
    assert_null(st_set_tensor(s, 6));
    st_set_close(s);
    s = st_set_open(tpath("model.safetensors"), &err);
    assert_non_null(s);
    st_set_close(s);
    st_set_close(NULL);
    assert_null(st_set_open(tpath("absent.safetensors"), &err));
    assert_non_null(strstr(err.msg, "absent.safetensors"));
}

static void test_10_two_shards_and_index(void **state)
{
    write_sample(tpath("shard-1.safetensors"), "a.");
    write_sample(tpath("shard-2.safetensors"), "b.");
    write_index("two.index.json",
                "{\"metadata\": {\"total_size\": 136}, \"weight_map\": {"
                "\"a.f32\": \"shard-1.safetensors\", \"a.bf16\": \"shard-1.safetensors\","
                "\"b.f16\": \"shard-2.safetensors\", \"b.scalar\": \"shard-2.safetensors\"}}");
    cb_err err = {{0}};
    st_set *s = st_set_open(tpath("two.index.json"), &err);
    if (!s)
        fail_msg("%s", err.msg);
    assert_int_equal(st_set_count(s), 4);
    const st_tensor *t = st_find(s, "b.f16");
    assert_non_null(t);
    assert_non_null(strstr(t->file, "shard-2.safetensors"));
    assert_non_null(strstr(st_find(s, "a.f32")->file, "shard-1.safetensors"));
    assert_null(st_find(s, "a.f16")); /* in the shard but not in the index */
    float out[6];
    assert_int_equal(st_to_f32(t, out, 6, &err), 0);
    assert_true(out[1] == -2.5f);

    /* st_expect: right, wildcard, wrong shape, wrong dtype, missing. */
    assert_ptr_equal(st_expect(s, "b.f16", ST_F16, 2, (int64_t[]){2, 3}, &err), t);
    assert_ptr_equal(st_expect(s, "b.f16", ST_ANY, 2, (int64_t[]){-1, 3}, &err), t);
    assert_non_null(st_expect(s, "b.scalar", ST_F32, 0, NULL, &err));
    assert_null(st_expect(s, "b.f16", ST_F16, 2, (int64_t[]){3, 2}, &err));
    assert_non_null(strstr(err.msg, "shard-2.safetensors"));
    assert_non_null(strstr(err.msg, "'b.f16'"));
    assert_non_null(strstr(err.msg, "[2,3]"));
    assert_non_null(strstr(err.msg, "want [3,2]"));
    assert_null(st_expect(s, "b.f16", ST_F16, 1, (int64_t[]){6}, &err));
    assert_null(st_expect(s, "a.bf16", ST_F32, 2, (int64_t[]){2, 3}, &err));
    assert_non_null(strstr(err.msg, "dtype BF16, want F32"));
    assert_null(st_expect(s, "model.norm.weight", ST_ANY, 1, (int64_t[]){4}, &err));
    assert_non_null(strstr(err.msg, "model.norm.weight"));
    assert_non_null(strstr(err.msg, "two.index.json"));
    st_set_close(s);
}

static void test_11_index_errors(void **state)
{
    write_sample(tpath("s1.safetensors"), "a.");
    cb_err err = {{0}};
    /* A tensor named in the index but absent from its shard: both named. */
    write_index("absent.index.json", "{\"weight_map\": {\"a.f32\": \"s1.safetensors\","
                                     " \"a.ghost\": \"s1.safetensors\"}}");
    assert_null(st_set_open(tpath("absent.index.json"), &err));
    assert_non_null(strstr(err.msg, "a.ghost"));
    assert_non_null(strstr(err.msg, "s1.safetensors"));
    assert_non_null(strstr(err.msg, "absent.index.json"));
    /* A shard that does not exist. */
    write_index("noshard.index.json", "{\"weight_map\": {\"a.f32\": \"s9.safetensors\"}}");
    assert_null(st_set_open(tpath("noshard.index.json"), &err));
    assert_non_null(strstr(err.msg, "s9.safetensors"));
    /* A shard outside the index's folder. */
    write_index("escape.index.json", "{\"weight_map\": {\"a.f32\": \"../s1.safetensors\"}}");
    assert_null(st_set_open(tpath("escape.index.json"), &err));
    assert_non_null(strstr(err.msg, "../s1.safetensors"));
    /* Not a string, no weight_map, bad JSON, duplicate keys. */
    write_index("num.index.json", "{\"weight_map\": {\"a.f32\": 3}}");
    assert_null(st_set_open(tpath("num.index.json"), &err));
    assert_non_null(strstr(err.msg, "a.f32"));
    write_index("nomap.index.json", "{\"weights\": {}}");
    assert_null(st_set_open(tpath("nomap.index.json"), &err));
    assert_non_null(strstr(err.msg, "weight_map"));
    write_index("badjson.index.json", "{\"weight_map\": {");
    assert_null(st_set_open(tpath("badjson.index.json"), &err));
    assert_non_null(strstr(err.msg, "badjson.index.json"));
    write_index("dup.index.json", "{\"weight_map\": {\"a.f32\": \"s1.safetensors\","
                                  " \"a.f32\": \"s1.safetensors\"}}");
    assert_null(st_set_open(tpath("dup.index.json"), &err));
    assert_non_null(strstr(err.msg, "a.f32"));
    /* A shard that is itself corrupt: its own error comes through. */
    write_raw("corrupt.safetensors", "{", 100, 0);
    write_index("corrupt.index.json", "{\"weight_map\": {\"a\": \"corrupt.safetensors\"}}");
    assert_null(st_set_open(tpath("corrupt.index.json"), &err));
    assert_non_null(strstr(err.msg, "corrupt.safetensors"));
    /* A folder with an index prefers it over model.safetensors. */
    write_index("model.safetensors.index.json", "{\"weight_map\": {\"a.f32\": \"s1.safetensors\"}}");
    st_set *s = st_set_open(tmpdir, &err);
    if (!s)
        fail_msg("%s", err.msg);
    assert_int_equal(st_set_count(s), 1);
    st_set_close(s);
    unlink(tpath("model.safetensors.index.json"));
}

/* ---- malformed files ------------------------------------------------------------ */

static void test_12_truncated_and_header_length(void **state)
{
    const char *p = tpath("short.safetensors");
    FILE *fp = fopen(p, "wb");
    fputs("\x10\0\0", fp);
    fclose(fp);
    expect_refused(p, "truncated", NULL);
    fp = fopen(p, "wb");
    fclose(fp);
    expect_refused(p, "truncated", NULL); /* empty file */
    expect_refused(write_raw("beyond.safetensors", "{}", 64, 0), "beyond the file", NULL);
    expect_refused(write_raw("absurd.safetensors", "{}", (int64_t)1 << 40, 0), "absurd", NULL);
    expect_refused(write_raw("huge.safetensors", "{}", INT64_MAX, 0), "absurd", NULL);
    /* A well-formed file cut short inside its data area. */
    const char *hdr = "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}";
    expect_refused(write_raw("cut.safetensors", hdr, -1, 12), "'w'", "beyond the data area",
                   NULL);
    st_file *f = st_file_open(write_raw("whole.safetensors", hdr, -1, 16), NULL);
    assert_non_null(f);
    st_file_close(f);
    expect_refused(tmpdir, "not a regular file", NULL);
}

static void test_13_bad_json(void **state)
{
    expect_refused(write_raw("j1.safetensors", "{\"w\": {\"dtype\": ", -1, 0), "bad JSON", NULL);
    expect_refused(write_raw("j2.safetensors", "[1, 2]", -1, 0), "not an object", NULL);
    expect_refused(write_raw("j3.safetensors", "{} trailing", -1, 0), "bad JSON", NULL);
    expect_refused(write_raw("j4.safetensors", "{\"w\": 5}", -1, 0), "'w'", "not an object", NULL);
    expect_refused(write_raw("j5.safetensors", "{\"__metadata__\": [1]}", -1, 0), "__metadata__",
                   NULL);
    /* A NUL inside the header. */
    const char *p = tpath("j6.safetensors");
    FILE *fp = fopen(p, "wb");
    fwrite("\x04\0\0\0\0\0\0\0{\0}  ", 1, 13, fp);
    fclose(fp);
    expect_refused(p, "bad JSON", NULL);
}

static void test_14_missing_fields(void **state)
{
    expect_refused(write_raw("m1.safetensors", "{\"t1\":{\"shape\":[1],\"data_offsets\":[0,4]}}",
                             -1, 4), "'t1'", "missing dtype", NULL);
    expect_refused(write_raw("m2.safetensors", "{\"t2\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}",
                             -1, 4), "'t2'", "missing shape", NULL);
    expect_refused(write_raw("m3.safetensors", "{\"t3\":{\"dtype\":\"F32\",\"shape\":[1]}}", -1, 4),
                   "'t3'", "missing data_offsets", NULL);
}

static void test_15_bad_offsets(void **state)
{
    static const char *bad[] = {
        "{\"o\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":4}}",
        "{\"o\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}",
        "{\"o\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}",
        "{\"o\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}",
        "{\"o\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4.0]}}",
        "{\"o\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[\"0\",4]}}",
    };
    char name[32];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(name, sizeof name, "o%zu.safetensors", i);
        expect_refused(write_raw(name, bad[i], -1, 8), "'o'", "data_offsets", NULL);
    }
    expect_refused(write_raw("o8.safetensors",
                             "{\"o\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", -1,
                             8), "'o'", "begin 8 > end 4", NULL);
    expect_refused(write_raw("o9.safetensors",
                             "{\"o\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", -1,
                             8), "'o'", "beyond the data area", NULL);
    expect_refused(write_raw("o10.safetensors",
                             "{\"o\":{\"dtype\":\"U8\",\"shape\":[1],"
                             "\"data_offsets\":[18446744073709551615,0]}}", -1, 8), "bad JSON",
                   NULL); /* beyond a JSON integer: jansson refuses it */
}

static void test_16_overlap(void **state)
{
    expect_refused(write_raw("ov.safetensors",
                             "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                             "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", -1,
                             12), "'a'", "'b'", "overlap", NULL);
    expect_refused(write_raw("ov2.safetensors",
                             "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                             "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", -1,
                             8), "overlap", NULL);
    /* Touching is fine, and an empty tensor overlaps nothing. */
    st_file *f = st_file_open(write_raw("touch.safetensors",
                             "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                             "\"z\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]},"
                             "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", -1,
                             16), NULL);
    assert_non_null(f);
    assert_int_equal(st_file_count(f), 3);
    st_file_close(f);
}

static void test_17_dtype_and_shape(void **state)
{
    expect_refused(write_raw("d1.safetensors",
                             "{\"q\":{\"dtype\":\"F17\",\"shape\":[1],\"data_offsets\":[0,4]}}", -1,
                             4), "'q'", "unknown dtype F17", NULL);
    expect_refused(write_raw("d2.safetensors",
                             "{\"q\":{\"dtype\":7,\"shape\":[1],\"data_offsets\":[0,4]}}", -1, 4),
                   "'q'", "dtype", NULL);
    expect_refused(write_raw("d3.safetensors",
                             "{\"q\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", -1,
                             8), "'q'", "needs 12 bytes", "hold 8", NULL);
    expect_refused(write_raw("d4.safetensors",
                             "{\"q\":{\"dtype\":\"BF16\",\"shape\":[2,2],\"data_offsets\":[0,4]}}",
                             -1, 4), "'q'", "needs 8 bytes", NULL);
    expect_refused(write_raw("d5.safetensors",
                             "{\"q\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}",
                             -1, 4), "'q'", "shape[0]", NULL);
    expect_refused(write_raw("d6.safetensors",
                             "{\"q\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],"
                             "\"data_offsets\":[0,4]}}", -1, 4), "'q'", "9 dimensions", NULL);
    expect_refused(write_raw("d7.safetensors",
                             "{\"q\":{\"dtype\":\"F32\",\"shape\":\"[1]\",\"data_offsets\":[0,4]}}",
                             -1, 4), "'q'", "shape is not an array", NULL);
    /* Recognised but unconvertible dtypes open fine. */
    st_file *f = st_file_open(write_raw("d8.safetensors",
                             "{\"q\":{\"dtype\":\"F8_E4M3\",\"shape\":[4],\"data_offsets\":[0,4]},"
                             "\"r\":{\"dtype\":\"BOOL\",\"shape\":[2],\"data_offsets\":[4,6]}}",
                             -1, 6), NULL);
    assert_non_null(f);
    assert_int_equal(st_file_find(f, "q")->dtype, ST_F8_E4M3);
    st_file_close(f);
}

static void test_18_overflow(void **state)
{
    /* 2^32 x 2^32 elements overflows the count... */
    expect_refused(write_raw("ovf1.safetensors",
                             "{\"big\":{\"dtype\":\"U8\",\"shape\":[4294967296,4294967296],"
                             "\"data_offsets\":[0,0]}}", -1, 0), "'big'", "overflows", NULL);
    /* ...2^62 F32 elements overflow the byte size... */
    expect_refused(write_raw("ovf2.safetensors",
                             "{\"big\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904],"
                             "\"data_offsets\":[0,0]}}", -1, 0), "'big'", "overflows", NULL);
    /* ...and a product that wraps to a small number must not pass as it. */
    expect_refused(write_raw("ovf3.safetensors",
                             "{\"big\":{\"dtype\":\"U8\",\"shape\":[4294967296,4294967296,0],"
                             "\"data_offsets\":[0,0]}}", -1, 0), "'big'", "overflows", NULL);
}

static void test_19_duplicate_names(void **state)
{
    expect_refused(write_raw("dup.safetensors",
                             "{\"twin\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                             "\"twin\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                             -1, 8), "duplicate", "twin", NULL);
}

static void test_20_open_mem(void **state)
{
    static const char good[] = "\x36\0\0\0\0\0\0\0"
                               "{\"m\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}"
                               "\x00\x3c\x00\xc0";
    size_t len = sizeof good - 1;
    cb_err err = {{0}};
    st_file *f = st_file_open_mem(good, len, "mem", &err);
    if (!f)
        fail_msg("%s", err.msg);
    float out[2];
    assert_int_equal(st_to_f32(st_file_find(f, "m"), out, 2, &err), 0);
    assert_true(out[0] == 1.0f && out[1] == -2.0f);
    assert_string_equal(st_file_find(f, "m")->file, "mem");
    st_file_close(f);
    /* Every prefix of a good file is refused cleanly. */
    for (size_t n = 0; n < len; n++) {
        char *cut = malloc(n ? n : 1);
        memcpy(cut, good, n);
        f = st_file_open_mem(cut, n, "mem-cut", &err);
        assert_null(f);
        assert_non_null(strstr(err.msg, "mem-cut"));
        free(cut);
    }
}

/* The fixtures double as the fuzzers' seed corpus: bad-* must be refused
 * (naming the file), the rest must open. */
static void test_21_fixture_folder(void **state)
{
    const char *dir = "tests/fixtures/safetensors";
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    int good = 0, bad = 0;
    char p[512];
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (strncmp(e->d_name, "bad-", 4) == 0) {
            expect_refused(p, NULL);
            bad++;
        } else {
            cb_err err = {{0}};
            st_file *f = st_file_open(p, &err);
            if (!f)
                fail_msg("%s", err.msg);
            st_file_close(f);
            good++;
        }
    }
    closedir(d);
    assert_true(good >= 3 && bad >= 8);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_01_dtype_names_and_sizes),
        cmocka_unit_test(test_02_f16_bit_patterns),
        cmocka_unit_test(test_03_bf16_bit_patterns),
        cmocka_unit_test(test_04_f32_to_half_rounding_and_all_patterns),
        cmocka_unit_test(test_05_round_trip_f32_f16_bf16),
        cmocka_unit_test(test_06_to_f32_refusals_name_the_tensor),
        cmocka_unit_test(test_07_fixture_file),
        cmocka_unit_test(test_08_write_refuses_bad_tensors),
        cmocka_unit_test(test_09_set_of_one_file_and_folder),
        cmocka_unit_test(test_10_two_shards_and_index),
        cmocka_unit_test(test_11_index_errors),
        cmocka_unit_test(test_12_truncated_and_header_length),
        cmocka_unit_test(test_13_bad_json),
        cmocka_unit_test(test_14_missing_fields),
        cmocka_unit_test(test_15_bad_offsets),
        cmocka_unit_test(test_16_overlap),
        cmocka_unit_test(test_17_dtype_and_shape),
        cmocka_unit_test(test_18_overflow),
        cmocka_unit_test(test_19_duplicate_names),
        cmocka_unit_test(test_20_open_mem),
        cmocka_unit_test(test_21_fixture_folder),
    };
    return cmocka_run_group_tests_name("safetensors", tests, setup, teardown);
}
