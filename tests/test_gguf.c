/* tests/test_gguf.c — models/gguf.c: the type tables, gguf_write round trips
 * of every metadata type (nested arrays, string arrays) and of tensors of
 * several types and alignments, version 2, the typed getters and their
 * coercions, and every malformed file the reader must refuse (each refusal
 * must name the file and the key or tensor at fault), plus every prefix of a
 * valid file and the committed fixtures under tests/fixtures/gguf/.
 *
 * Valid files are made with gguf_write; malformed ones byte by byte with the
 * rb_* builder below, never through gguf_write.  Files go to a fresh mkdtemp
 * folder removed at the end.
 *
 * Run with CTXBENCH_GGUF_FIXTURES=DIR to (re)write the fixture files (the
 * fuzzer's seeds) into DIR instead of testing.
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

#include "models/gguf.h"

static char tmpdir[] = "/tmp/ctxbench-gguf-XXXXXX";

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

/* Folder new files go to: tmpdir, or the fixture folder when writing those. */
static const char *outdir = tmpdir;

/* Path for a file name (rotating static buffers: up to 4 live at once). */
static const char *tpath(const char *name)
{
    static char bufs[4][512];
    static int at;
    char *b = bufs[at++ % 4];
    snprintf(b, 512, "%s/%s", outdir, name);
    return b;
}

/* ---- value constructors --------------------------------------------------------- */

static gguf_kv kv_u(const char *key, gguf_vtype t, uint64_t x)
{
    return (gguf_kv){.key = key, .val = {.type = t, .u64 = x}};
}

static gguf_kv kv_i(const char *key, gguf_vtype t, int64_t x)
{
    return (gguf_kv){.key = key, .val = {.type = t, .i64 = x}};
}

static gguf_kv kv_f(const char *key, gguf_vtype t, double x)
{
    return (gguf_kv){.key = key, .val = {.type = t, .f64 = x}};
}

static gguf_kv kv_s(const char *key, const char *s)
{
    return (gguf_kv){.key = key, .val = {.type = GGUF_STR, .str = {s, strlen(s)}}};
}

static gguf_value arr_raw(gguf_vtype et, const void *raw, uint64_t n)
{
    gguf_value v = {.type = GGUF_ARR};
    v.arr.type = et;
    v.arr.n = n;
    v.arr.raw = raw;
    return v;
}

static gguf_value arr_strs(const gguf_str *s, uint64_t n)
{
    gguf_value v = {.type = GGUF_ARR};
    v.arr.type = GGUF_STR;
    v.arr.n = n;
    v.arr.strs = s;
    return v;
}

static gguf_value arr_items(const gguf_value *items, uint64_t n)
{
    gguf_value v = {.type = GGUF_ARR};
    v.arr.type = GGUF_ARR;
    v.arr.n = n;
    v.arr.items = items;
    return v;
}

static gguf_tensor tensor(const char *name, uint32_t type, uint32_t n_dims, int64_t ne0,
                          int64_t ne1, int64_t ne2, const void *data)
{
    gguf_tensor t = {.name = name, .n_dims = n_dims, .ne = {ne0, ne1, ne2, 1}, .type = type,
                     .data = data};
    t.nelems = (uint64_t)(ne0 * ne1 * ne2);
    t.nbytes = t.nelems / gguf_type_block(type) * gguf_type_size(type);
    return t;
}

static gguf_file *open_ok(const char *path)
{
    cb_err err = {{0}};
    gguf_file *f = gguf_open(path, &err);
    if (!f)
        fail_msg("%s", err.msg);
    return f;
}

static void write_ok(const char *path, uint32_t version, const gguf_kv *kvs, size_t n_kv,
                     const gguf_tensor *ts, size_t n_t)
{
    cb_err err = {{0}};
    if (gguf_write(path, version, kvs, n_kv, ts, n_t, &err) < 0)
        fail_msg("%s", err.msg);
}

/* ---- raw builder for malformed files ---------------------------------------------- */

static struct {
    uint8_t b[1 << 17];
    size_t len;
} rb;

static void rb_reset(void)
{
    rb.len = 0;
}

static void rb_le(uint64_t v, size_t n)
{
    assert_true(rb.len + n <= sizeof rb.b);
    for (size_t i = 0; i < n; i++)
        rb.b[rb.len++] = (uint8_t)(v >> (8 * i));
}

static void rb_str(const char *s)
{
    size_t n = strlen(s);
    rb_le(n, 8);
    assert_true(rb.len + n <= sizeof rb.b);
    memcpy(rb.b + rb.len, s, n);
    rb.len += n;
}

static void rb_header(uint32_t version, uint64_t n_tensors, uint64_t n_kv)
{
    rb_reset();
    rb_le(0x46554747u, 4); /* "GGUF" */
    rb_le(version, 4);
    rb_le(n_tensors, 8);
    rb_le(n_kv, 8);
}

static void rb_kv_u32(const char *key, uint32_t v)
{
    rb_str(key);
    rb_le(GGUF_U32, 4);
    rb_le(v, 4);
}

/* A tensor info with up to 4 dims taken from ne. */
static void rb_tinfo(const char *name, uint32_t n_dims, const uint64_t *ne, uint32_t type,
                     uint64_t offset)
{
    rb_str(name);
    rb_le(n_dims, 4);
    for (uint32_t d = 0; d < n_dims; d++)
        rb_le(ne[d], 8);
    rb_le(type, 4);
    rb_le(offset, 8);
}

static void rb_pad_zeros(uint32_t align, size_t data_bytes)
{
    while (rb.len % align)
        rb_le(0, 1);
    for (size_t i = 0; i < data_bytes; i++)
        rb_le((uint8_t)i, 1);
}

static const char *rb_save(const char *name)
{
    const char *p = tpath(name);
    FILE *fp = fopen(p, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(rb.b, 1, rb.len, fp), rb.len);
    assert_int_equal(fclose(fp), 0);
    return p;
}

/* Asserts that the file at path is refused, by gguf_open and by gguf_open_mem
 * on an exact-size heap copy, with a message naming the file and holding want
 * and want2 (if not NULL). */
static void refused(const char *path, const char *want, const char *want2)
{
    cb_err err = {{0}};
    gguf_file *f = gguf_open(path, &err);
    if (f)
        fail_msg("%s: opened, want an error with '%s'", path, want);
    if (getenv("GGUF_TEST_VERBOSE"))
        printf("# %s\n", err.msg);
    if (!strstr(err.msg, path) || (want && !strstr(err.msg, want)) ||
        (want2 && !strstr(err.msg, want2)))
        fail_msg("message '%s' lacks the path, '%s' or '%s'", err.msg, want,
                 want2 ? want2 : "");
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    rewind(fp);
    uint8_t *buf = malloc(n ? (size_t)n : 1);
    assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
    fclose(fp);
    cb_err err2 = {{0}};
    assert_null(gguf_open_mem(buf, (size_t)n, path, &err2));
    assert_string_equal(err.msg, err2.msg);
    free(buf);
}

/* ---- cases ----------------------------------------------------------------------------- */

static void test_01_type_tables(void **state)
{
    static const struct {
        uint32_t id;
        const char *name;
        uint32_t block, size;
    } want[] = {
        {0, "F32", 1, 4},       {1, "F16", 1, 2},       {2, "Q4_0", 32, 18},
        {3, "Q4_1", 32, 20},    {6, "Q5_0", 32, 22},    {7, "Q5_1", 32, 24},
        {8, "Q8_0", 32, 34},    {9, "Q8_1", 32, 36},    {10, "Q2_K", 256, 84},
        {11, "Q3_K", 256, 110}, {12, "Q4_K", 256, 144}, {13, "Q5_K", 256, 176},
        {14, "Q6_K", 256, 210}, {15, "Q8_K", 256, 292}, {24, "I8", 1, 1},
        {25, "I16", 1, 2},      {26, "I32", 1, 4},      {27, "I64", 1, 8},
        {28, "F64", 1, 8},      {30, "BF16", 1, 2},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        assert_string_equal(gguf_type_name(want[i].id), want[i].name);
        assert_int_equal(gguf_type_block(want[i].id), want[i].block);
        assert_int_equal(gguf_type_size(want[i].id), want[i].size);
    }
    static const uint32_t unknown[] = {4, 5, 16, 23, 29, 31, 1000, UINT32_MAX};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        assert_string_equal(gguf_type_name(unknown[i]), "?");
        assert_int_equal(gguf_type_block(unknown[i]), 0);
        assert_int_equal(gguf_type_size(unknown[i]), 0);
    }
    assert_string_equal(gguf_vtype_name(GGUF_ARR), "array");
    assert_string_equal(gguf_vtype_name(GGUF_F64), "float64");
    assert_string_equal(gguf_vtype_name((gguf_vtype)13), "?");
    assert_int_equal(gguf_vtype_size(GGUF_I16), 2);
    assert_int_equal(gguf_vtype_size(GGUF_STR), 0);
}

/* Every scalar type at its extremes, strings (empty, with a NUL inside),
 * arrays of every element kind, arrays of arrays, and an empty array. */
static const uint8_t u8s[] = {0, 1, 255};
static const int32_t i32s[] = {INT32_MIN, -1, 0, INT32_MAX};
static const float f32s[] = {1.5f, -0.0f, 3.0e38f};
static const uint8_t bools[] = {1, 0, 1, 1};
static const int16_t row0[] = {-1, 2}, row1[] = {30000};
static const gguf_str words[] = {{"hello", 5}, {"", 0}, {"a\0b", 3}, {"\xc4\xa0the", 5}};
static gguf_value rows[3], grid[2], deep[1], deeper[1];

static size_t all_kvs(gguf_kv *kv)
{
    size_t n = 0;
    kv[n++] = kv_u("t.u8", GGUF_U8, 255);
    kv[n++] = kv_i("t.i8", GGUF_I8, -128);
    kv[n++] = kv_u("t.u16", GGUF_U16, 65535);
    kv[n++] = kv_i("t.i16", GGUF_I16, -32768);
    kv[n++] = kv_u("t.u32", GGUF_U32, UINT32_MAX);
    kv[n++] = kv_i("t.i32", GGUF_I32, INT32_MIN);
    kv[n++] = kv_u("t.u64", GGUF_U64, UINT64_MAX);
    kv[n++] = kv_i("t.i64", GGUF_I64, INT64_MIN);
    kv[n++] = kv_f("t.f32", GGUF_F32, 0.1f);
    kv[n++] = kv_f("t.f64", GGUF_F64, M_PI);
    kv[n++] = (gguf_kv){.key = "t.true", .val = {.type = GGUF_BOOL, .b = true}};
    kv[n++] = (gguf_kv){.key = "t.false", .val = {.type = GGUF_BOOL, .b = false}};
    kv[n++] = kv_s("t.str", "llama");
    kv[n++] = kv_s("t.empty", "");
    kv[n++] = (gguf_kv){.key = "t.nul", .val = {.type = GGUF_STR, .str = {"x\0y", 3}}};
    kv[n++] = (gguf_kv){.key = "a.u8", .val = arr_raw(GGUF_U8, u8s, 3)};
    kv[n++] = (gguf_kv){.key = "a.i32", .val = arr_raw(GGUF_I32, i32s, 4)};
    kv[n++] = (gguf_kv){.key = "a.f32", .val = arr_raw(GGUF_F32, f32s, 3)};
    kv[n++] = (gguf_kv){.key = "a.bool", .val = arr_raw(GGUF_BOOL, bools, 4)};
    kv[n++] = (gguf_kv){.key = "a.str", .val = arr_strs(words, 4)};
    kv[n++] = (gguf_kv){.key = "a.empty", .val = arr_raw(GGUF_U64, NULL, 0)};
    rows[0] = arr_raw(GGUF_I16, row0, 2);
    rows[1] = arr_raw(GGUF_I16, row1, 1);
    rows[2] = arr_strs(words, 2);
    kv[n++] = (gguf_kv){.key = "a.rows", .val = arr_items(rows, 3)};
    /* Depth 4: grid[i] are arrays of rows; deep holds grid; deeper holds deep. */
    grid[0] = arr_items(rows, 2);
    grid[1] = arr_items(rows + 2, 1);
    deep[0] = arr_items(grid, 2);
    deeper[0] = arr_items(deep, 1);
    kv[n++] = (gguf_kv){.key = "a.depth4", .val = deeper[0]};
    return n;
}

static void test_02_metadata_round_trip(void **state)
{
    gguf_kv kv[32];
    size_t n = all_kvs(kv);
    const char *p = tpath("meta.gguf");
    write_ok(p, 3, kv, n, NULL, 0);
    gguf_file *f = open_ok(p);
    assert_int_equal(gguf_version(f), 3);
    assert_int_equal(gguf_alignment(f), 32);
    assert_int_equal(gguf_kv_count(f), n);
    assert_int_equal(gguf_tensor_count(f), 0);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(gguf_kv_at(f, i)->key, kv[i].key);
        assert_int_equal(gguf_kv_at(f, i)->val.type, kv[i].val.type);
        assert_ptr_equal(gguf_find_key(f, kv[i].key), &gguf_kv_at(f, i)->val);
    }
    assert_null(gguf_kv_at(f, n));
    assert_null(gguf_find_key(f, "t.u"));
    assert_int_equal(gguf_find_key(f, "t.u8")->u64, 255);
    assert_int_equal(gguf_find_key(f, "t.i8")->i64, -128);
    assert_int_equal(gguf_find_key(f, "t.u16")->u64, 65535);
    assert_int_equal(gguf_find_key(f, "t.i16")->i64, -32768);
    assert_int_equal(gguf_find_key(f, "t.u32")->u64, UINT32_MAX);
    assert_int_equal(gguf_find_key(f, "t.i32")->i64, INT32_MIN);
    assert_true(gguf_find_key(f, "t.u64")->u64 == UINT64_MAX);
    assert_true(gguf_find_key(f, "t.i64")->i64 == INT64_MIN);
    assert_true(gguf_find_key(f, "t.f32")->f64 == (double)0.1f);
    assert_true(gguf_find_key(f, "t.f64")->f64 == M_PI);
    assert_true(gguf_find_key(f, "t.true")->b);
    assert_false(gguf_find_key(f, "t.false")->b);
    assert_true(gguf_str_eq(gguf_find_key(f, "t.str")->str, "llama"));
    assert_int_equal(gguf_find_key(f, "t.empty")->str.len, 0);
    gguf_str nul = gguf_find_key(f, "t.nul")->str;
    assert_int_equal(nul.len, 3);
    assert_memory_equal(nul.ptr, "x\0y", 3);

    const gguf_value *a = gguf_find_key(f, "a.u8");
    int64_t x;
    float fl;
    gguf_str s;
    gguf_value sc;
    assert_int_equal(a->arr.type, GGUF_U8);
    assert_int_equal(a->arr.n, 3);
    assert_true(gguf_arr_i64(a, 2, &x) && x == 255);
    assert_false(gguf_arr_i64(a, 3, &x));
    a = gguf_find_key(f, "a.i32");
    for (int i = 0; i < 4; i++)
        assert_true(gguf_arr_i64(a, (uint64_t)i, &x) && x == i32s[i]);
    assert_false(gguf_arr_f32(a, 0, &fl));
    assert_false(gguf_arr_str(a, 0, &s));
    a = gguf_find_key(f, "a.f32");
    for (int i = 0; i < 3; i++)
        assert_true(gguf_arr_f32(a, (uint64_t)i, &fl) &&
                    memcmp(&fl, &f32s[i], sizeof fl) == 0);
    a = gguf_find_key(f, "a.bool");
    assert_true(gguf_arr_scalar(a, 1, &sc) && sc.type == GGUF_BOOL && !sc.b);
    assert_true(gguf_arr_scalar(a, 3, &sc) && sc.b);
    a = gguf_find_key(f, "a.str");
    assert_int_equal(a->arr.n, 4);
    for (int i = 0; i < 4; i++) {
        assert_true(gguf_arr_str(a, (uint64_t)i, &s));
        assert_int_equal(s.len, words[i].len);
        assert_memory_equal(s.ptr, words[i].ptr, s.len);
    }
    assert_false(gguf_arr_i64(a, 0, &x));
    assert_true(gguf_arr_scalar(a, 0, &sc) && sc.type == GGUF_STR &&
                gguf_str_eq(sc.str, "hello"));
    a = gguf_find_key(f, "a.empty");
    assert_int_equal(a->arr.type, GGUF_U64);
    assert_int_equal(a->arr.n, 0);
    assert_false(gguf_arr_scalar(a, 0, &sc));

    a = gguf_find_key(f, "a.rows");
    assert_int_equal(a->arr.type, GGUF_ARR);
    assert_int_equal(a->arr.n, 3);
    assert_false(gguf_arr_scalar(a, 0, &sc));
    assert_null(gguf_arr_item(a, 3));
    assert_true(gguf_arr_i64(gguf_arr_item(a, 0), 0, &x) && x == -1);
    assert_true(gguf_arr_i64(gguf_arr_item(a, 0), 1, &x) && x == 2);
    assert_true(gguf_arr_i64(gguf_arr_item(a, 1), 0, &x) && x == 30000);
    assert_true(gguf_arr_str(gguf_arr_item(a, 2), 1, &s) && s.len == 0);
    /* depth4[0][1][0][0] is "hello": deeper -> deep -> grid[1] -> rows[2]. */
    a = gguf_find_key(f, "a.depth4");
    const gguf_value *g = gguf_arr_item(gguf_arr_item(a, 0), 1);
    assert_non_null(g);
    assert_true(gguf_arr_str(gguf_arr_item(g, 0), 0, &s) && gguf_str_eq(s, "hello"));
    char *dup = gguf_strdup(s);
    assert_string_equal(dup, "hello");
    free(dup);
    gguf_close(f);
}

/* The getters coerce among integer types when the value fits and otherwise
 * name the key and its actual type. */
static void test_03_getters_and_coercion(void **state)
{
    gguf_kv kv[32];
    size_t n = all_kvs(kv);
    const char *p = tpath("get.gguf");
    write_ok(p, 3, kv, n, NULL, 0);
    gguf_file *f = open_ok(p);
    cb_err err = {{0}};
    uint32_t u32;
    uint64_t u64;
    int64_t i64;
    float f32;
    double f64;
    bool b;
    gguf_str s;
    const gguf_value *a;
    assert_int_equal(gguf_get_u32(f, "t.u8", &u32, &err), 0);
    assert_int_equal(u32, 255);
    assert_int_equal(gguf_get_u32(f, "t.u32", &u32, &err), 0);
    assert_int_equal(u32, UINT32_MAX);
    assert_int_equal(gguf_get_i64(f, "t.i8", &i64, &err), 0);
    assert_int_equal(i64, -128);
    assert_int_equal(gguf_get_i64(f, "t.u32", &i64, &err), 0);
    assert_int_equal(i64, UINT32_MAX);
    assert_int_equal(gguf_get_u64(f, "t.u64", &u64, &err), 0);
    assert_true(u64 == UINT64_MAX);
    assert_int_equal(gguf_get_f64(f, "t.f32", &f64, &err), 0);
    assert_true(f64 == (double)0.1f);
    assert_int_equal(gguf_get_f32(f, "t.f64", &f32, &err), 0);
    assert_true(f32 == (float)M_PI);
    assert_int_equal(gguf_get_bool(f, "t.true", &b, &err), 0);
    assert_true(b);
    assert_int_equal(gguf_get_str(f, "t.str", &s, &err), 0);
    assert_true(gguf_str_eq(s, "llama"));
    assert_int_equal(gguf_get_arr(f, "a.str", &a, &err), 0);
    assert_int_equal(a->arr.type, GGUF_STR);

    static const struct {
        const char *key, *want;
        int getter; /* 0 u32, 1 i64, 2 u64, 3 f32, 4 bool, 5 str, 6 arr */
    } bad[] = {
        {"t.i8", "= -128 (int8) does not fit in uint32", 0},
        {"t.u64", "(uint64) does not fit in uint32", 0},
        {"t.u64", "(uint64) does not fit in int64", 1},
        {"t.i64", "(int64) does not fit in uint64", 2},
        {"t.str", "is string, want uint32", 0},
        {"t.f32", "is float32, want int64", 1},
        {"t.u8", "is uint8, want a float", 3},
        {"t.u8", "is uint8, want bool", 4},
        {"a.str", "is array, want string", 5},
        {"t.str", "is string, want array", 6},
        {"no.such.key", "is missing", 0},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = 0;
        switch (bad[i].getter) {
        case 0: rc = gguf_get_u32(f, bad[i].key, &u32, &err); break;
        case 1: rc = gguf_get_i64(f, bad[i].key, &i64, &err); break;
        case 2: rc = gguf_get_u64(f, bad[i].key, &u64, &err); break;
        case 3: rc = gguf_get_f32(f, bad[i].key, &f32, &err); break;
        case 4: rc = gguf_get_bool(f, bad[i].key, &b, &err); break;
        case 5: rc = gguf_get_str(f, bad[i].key, &s, &err); break;
        case 6: rc = gguf_get_arr(f, bad[i].key, &a, &err); break;
        }
        assert_int_equal(rc, -1);
        char key[80];
        snprintf(key, sizeof key, "key '%s'", bad[i].key);
        if (!strstr(err.msg, p) || !strstr(err.msg, key) || !strstr(err.msg, bad[i].want))
            fail_msg("case %zu: '%s'", i, err.msg);
    }
    gguf_close(f);
}

/* Tensors of four types: offsets aligned, data where the offsets say, the
 * bytes as written, sizes from the type table. */
static void check_tensors(uint32_t align, uint32_t version)
{
    static uint8_t f32b[8 * 3 * 4], f16b[64 * 2], q8b[2 * 2 * 34], q41b[6 * 20];
    for (size_t i = 0; i < sizeof f32b; i++)
        f32b[i] = (uint8_t)(i * 7 + 1);
    for (size_t i = 0; i < sizeof f16b; i++)
        f16b[i] = (uint8_t)(i * 3 + 2);
    for (size_t i = 0; i < sizeof q8b; i++)
        q8b[i] = (uint8_t)(i * 5 + 3);
    for (size_t i = 0; i < sizeof q41b; i++)
        q41b[i] = (uint8_t)(i * 11 + 4);
    gguf_tensor ts[] = {
        tensor("norm.weight", GGUF_T_F32, 2, 8, 3, 1, f32b),
        tensor("vec.f16", GGUF_T_F16, 1, 64, 1, 1, f16b),
        tensor("token_embd.weight", GGUF_T_Q8_0, 2, 64, 2, 1, q8b),
        tensor("blk.0.attn_q.weight", GGUF_T_Q4_1, 3, 32, 3, 2, q41b),
    };
    gguf_kv kv[2] = {kv_s("general.architecture", "llama"),
                     kv_u("general.alignment", GGUF_U32, align)};
    const char *p = tpath("tensors.gguf");
    write_ok(p, version, kv, align == 32 ? 1 : 2, ts, 4);
    gguf_file *f = open_ok(p);
    assert_int_equal(gguf_version(f), version);
    assert_int_equal(gguf_alignment(f), align);
    assert_int_equal(gguf_data_offset(f) % align, 0);
    assert_int_equal(gguf_tensor_count(f), 4);
    const uint8_t *base =
        (const uint8_t *)gguf_tensor_data(f, gguf_tensor_at(f, 0)) - gguf_tensor_at(f, 0)->offset -
        gguf_data_offset(f);
    for (size_t i = 0; i < 4; i++) {
        const gguf_tensor *t = gguf_tensor_at(f, i);
        assert_ptr_equal(gguf_find_tensor(f, ts[i].name), t);
        assert_string_equal(t->name, ts[i].name);
        assert_int_equal(t->type, ts[i].type);
        assert_int_equal(t->n_dims, ts[i].n_dims);
        for (int d = 0; d < GGUF_MAX_DIMS; d++)
            assert_int_equal(t->ne[d], ts[i].ne[d]);
        assert_int_equal(t->nelems, ts[i].nelems);
        assert_int_equal(t->nbytes, ts[i].nbytes);
        assert_int_equal(t->offset % align, 0);
        assert_ptr_equal(t->data, base + gguf_data_offset(f) + t->offset);
        assert_ptr_equal(gguf_tensor_data(f, t), t->data);
        assert_memory_equal(t->data, ts[i].data, t->nbytes);
        if (i > 0) /* back to back, each padded to the alignment */
            assert_int_equal(t->offset, (gguf_tensor_at(f, i - 1)->offset +
                                         gguf_tensor_at(f, i - 1)->nbytes + align - 1) /
                                            align * align);
    }
    assert_int_equal(gguf_tensor_at(f, 2)->nbytes, 136);
    assert_int_equal(gguf_tensor_at(f, 3)->nbytes, 120);
    assert_null(gguf_find_tensor(f, "missing"));
    assert_null(gguf_tensor_at(f, 4));
    gguf_close(f);
}

static void test_04_tensors_default_alignment(void **state)
{
    check_tensors(32, 3);
}

static void test_05_tensors_other_alignments(void **state)
{
    check_tensors(64, 3);
    check_tensors(8, 3);
    check_tensors(1, 3);
}

static void test_06_version_2(void **state)
{
    check_tensors(32, 2);
}

static void test_07_writer_refusals(void **state)
{
    static uint8_t data[64];
    cb_err err = {{0}};
    gguf_tensor t = tensor("w", GGUF_T_F32, 1, 4, 1, 1, data);
    t.nbytes = 15;
    assert_int_equal(gguf_write(tpath("w1.gguf"), 3, NULL, 0, &t, 1, &err), -1);
    assert_non_null(strstr(err.msg, "tensor w"));
    t = tensor("q", GGUF_T_Q8_0, 1, 32, 1, 1, data);
    t.ne[0] = 16;
    assert_int_equal(gguf_write(tpath("w2.gguf"), 3, NULL, 0, &t, 1, &err), -1);
    t = tensor("q", GGUF_T_F32, 1, 4, 1, 1, data);
    t.type = 4;
    assert_int_equal(gguf_write(tpath("w3.gguf"), 3, NULL, 0, &t, 1, &err), -1);
    assert_int_equal(gguf_write(tpath("w4.gguf"), 1, NULL, 0, NULL, 0, &err), -1);
    gguf_kv kv = kv_u("general.alignment", GGUF_U32, 48);
    assert_int_equal(gguf_write(tpath("w5.gguf"), 3, &kv, 1, NULL, 0, &err), -1);
    assert_int_equal(access(tpath("w1.gguf"), F_OK), -1);
}

static void test_08_bad_magic_and_truncated_header(void **state)
{
    rb_header(3, 0, 0);
    rb.b[0] = 'G', rb.b[1] = 'G', rb.b[2] = 'M', rb.b[3] = 'L';
    refused(rb_save("magic.gguf"), "bad magic", "47 47 4d 4c");
    rb_header(3, 0, 0);
    rb.len = 10;
    refused(rb_save("short.gguf"), "truncated header", "10 bytes");
    rb_reset();
    refused(rb_save("empty.gguf"), "truncated header", "0 bytes");
}

static void test_09_versions_and_big_endian(void **state)
{
    rb_header(3, 0, 0);
    rb.b[4] = 0, rb.b[7] = 3; /* version 3 written big-endian */
    refused(rb_save("be.gguf"), "big-endian", "version 3");
    rb_header(1, 0, 0);
    refused(rb_save("v1.gguf"), "version 1 is not supported", NULL);
    rb_header(4, 0, 0);
    refused(rb_save("v4.gguf"), "unsupported GGUF version 4", NULL);
    rb_header(0, 0, 0);
    refused(rb_save("v0.gguf"), "unsupported GGUF version 0", NULL);
}

/* Cuts inside one key's value must name that key. */
static void test_10_truncated_in_metadata(void **state)
{
    rb_header(3, 0, 3);
    rb_kv_u32("first", 1);
    rb_str("second.key");
    rb_le(GGUF_U64, 4);
    rb_le(7, 4); /* half of a u64 */
    refused(rb_save("cut-value.gguf"), "key 'second.key'", "truncated reading the value");
    rb_header(3, 0, 2);
    rb_kv_u32("first", 1);
    rb_le(10, 8);
    rb_le('x', 1); /* key of 10 bytes, 1 present */
    refused(rb_save("cut-key.gguf"), "metadata entry 1", "key length 10");
    rb_header(3, 0, 1);
    rb_str("arr");
    rb_le(GGUF_ARR, 4);
    rb_le(GGUF_U8, 4);
    refused(rb_save("cut-arr.gguf"), "key 'arr'", "truncated reading array length");
    rb_header(3, 0, 1);
    rb_str("no.type");
    refused(rb_save("cut-type.gguf"), "key 'no.type'", "value type");
}

static void test_11_string_length_past_end(void **state)
{
    rb_header(3, 0, 1);
    rb_str("general.name");
    rb_le(GGUF_STR, 4);
    rb_le(1000, 8);
    rb_str("abc");
    refused(rb_save("strlen.gguf"), "key 'general.name'", "string value length 1000");
    /* The same inside a string array. */
    rb_header(3, 0, 1);
    rb_str("tokenizer.ggml.tokens");
    rb_le(GGUF_ARR, 4);
    rb_le(GGUF_STR, 4);
    rb_le(2, 8);
    rb_str("a");
    rb_le(UINT64_MAX, 8);
    refused(rb_save("strlen2.gguf"), "key 'tokenizer.ggml.tokens'", "array string length");
}

static void test_12_array_length_overflow(void **state)
{
    rb_header(3, 0, 1);
    rb_str("big");
    rb_le(GGUF_ARR, 4);
    rb_le(GGUF_U64, 4);
    rb_le(1ull << 62, 8); /* 2^62 x 8 bytes = 2^65 */
    rb_le(0, 8);
    refused(rb_save("arr-overflow.gguf"), "key 'big'",
            "array of 4611686018427387904 uint64 needs more than 2^64 bytes");
    rb_header(3, 0, 1);
    rb_str("strs");
    rb_le(GGUF_ARR, 4);
    rb_le(GGUF_STR, 4);
    rb_le(1000000, 8);
    rb_str("only one");
    refused(rb_save("arr-strs.gguf"), "key 'strs'", "array of 1000000 string");
    rb_header(3, 0, 1);
    rb_str("nest");
    rb_le(GGUF_ARR, 4);
    rb_le(GGUF_ARR, 4);
    rb_le(UINT64_MAX, 8);
    refused(rb_save("arr-arrs.gguf"), "key 'nest'", "array of 18446744073709551615 array");
}

/* Depth 4 opens (test_02); depth 5 is refused, however it is built. */
static void test_13_nesting_too_deep(void **state)
{
    static const uint8_t one[] = {1};
    gguf_value lv[5];
    lv[0] = arr_raw(GGUF_U8, one, 1);
    for (int i = 1; i < 5; i++)
        lv[i] = arr_items(&lv[i - 1], 1);
    gguf_kv kv = {.key = "deep.key", .val = lv[4]};
    const char *p = tpath("deep5.gguf");
    write_ok(p, 3, &kv, 1, NULL, 0);
    refused(p, "key 'deep.key'", "nested deeper than 4");
    kv.val = lv[3];
    p = tpath("deep4.gguf");
    write_ok(p, 3, &kv, 1, NULL, 0);
    gguf_close(open_ok(p));
    /* An empty array of arrays at depth 5 is still too deep. */
    rb_header(3, 0, 1);
    rb_str("d");
    rb_le(GGUF_ARR, 4);
    for (int i = 0; i < 4; i++) {
        rb_le(GGUF_ARR, 4);
        rb_le(1, 8);
    }
    rb_le(GGUF_U8, 4);
    rb_le(0, 8);
    refused(rb_save("deep5raw.gguf"), "key 'd'", "nested deeper");
}

static void test_14_unknown_value_types(void **state)
{
    rb_header(3, 0, 1);
    rb_str("weird");
    rb_le(13, 4);
    rb_le(0, 8);
    refused(rb_save("vtype.gguf"), "key 'weird'", "unknown value type 13");
    rb_header(3, 0, 1);
    rb_str("weird.arr");
    rb_le(GGUF_ARR, 4);
    rb_le(0x80000000u, 4);
    rb_le(0, 8);
    refused(rb_save("vtype-arr.gguf"), "key 'weird.arr'", "array of unknown value type 2147483648");
    rb_header(3, 0, 1);
    rb_str("flag");
    rb_le(GGUF_BOOL, 4);
    rb_le(2, 1);
    rb_le(0, 8);
    refused(rb_save("bool.gguf"), "key 'flag'", "bool value 2");
}

/* A file with one kv (alignment) and tensors described by the caller. */
static const uint64_t ne32x2[] = {32, 2}, ne4[] = {4};

static void test_15_tensor_offset_not_aligned(void **state)
{
    rb_header(3, 2, 0);
    rb_tinfo("a", 1, ne4, GGUF_T_F32, 0);
    rb_tinfo("blk.1.ffn_up.weight", 1, ne4, GGUF_T_F32, 16);
    rb_pad_zeros(32, 64);
    refused(rb_save("unaligned.gguf"), "tensor blk.1.ffn_up.weight",
            "offset 16 is not a multiple of the alignment 32");
    /* The same offset is fine with general.alignment = 16. */
    rb_header(3, 2, 1);
    rb_kv_u32("general.alignment", 16);
    rb_tinfo("a", 1, ne4, GGUF_T_F32, 0);
    rb_tinfo("blk.1.ffn_up.weight", 1, ne4, GGUF_T_F32, 16);
    rb_pad_zeros(16, 32);
    gguf_file *f = open_ok(rb_save("aligned16.gguf"));
    assert_int_equal(gguf_alignment(f), 16);
    assert_int_equal(gguf_find_tensor(f, "blk.1.ffn_up.weight")->offset, 16);
    gguf_close(f);
}

static void test_16_tensor_data_past_end(void **state)
{
    rb_header(3, 1, 0);
    rb_tinfo("blk.3.attn_q.weight", 2, ne32x2, GGUF_T_Q4_1, 0);
    rb_pad_zeros(32, 39); /* needs 40 */
    const char *p = rb_save("past-end.gguf");
    char want[64];
    snprintf(want, sizeof want, "size %zu)", rb.len);
    refused(p, "tensor blk.3.attn_q.weight: data [", "runs past the end of the file");
    refused(p, want, NULL);
    rb_header(3, 1, 0);
    rb_tinfo("huge.offset", 1, ne4, GGUF_T_F32, UINT64_MAX - 31);
    rb_pad_zeros(32, 16);
    refused(rb_save("offset-overflow.gguf"), "tensor huge.offset", "overflows");
    /* No padding at all after the infos: the data section starts past the end. */
    rb_header(3, 1, 0);
    rb_tinfo("nopad", 1, ne4, GGUF_T_F32, 0);
    refused(rb_save("nopad.gguf"), "tensor nopad", "runs past the end");
}

static void test_17_overlapping_tensors(void **state)
{
    rb_header(3, 3, 0);
    rb_tinfo("t0", 1, (const uint64_t[]){16}, GGUF_T_F32, 0);  /* [0, 64) */
    rb_tinfo("t1", 1, (const uint64_t[]){8}, GGUF_T_F32, 96);  /* [96, 128) */
    rb_tinfo("t2", 1, (const uint64_t[]){16}, GGUF_T_F32, 32); /* [32, 96) */
    rb_pad_zeros(32, 128);
    refused(rb_save("overlap.gguf"), "tensor t2", "overlaps tensor t0");
    /* Touching is not overlapping; empty tensors overlap nothing. */
    rb_header(3, 3, 0);
    rb_tinfo("t0", 1, (const uint64_t[]){8}, GGUF_T_F32, 0);
    rb_tinfo("t1", 1, (const uint64_t[]){8}, GGUF_T_F32, 32);
    rb_tinfo("empty", 1, (const uint64_t[]){0}, GGUF_T_Q8_0, 32);
    rb_pad_zeros(32, 64);
    gguf_file *f = open_ok(rb_save("touch.gguf"));
    assert_int_equal(gguf_find_tensor(f, "empty")->nbytes, 0);
    gguf_close(f);
}

static void test_18_unknown_tensor_type(void **state)
{
    rb_header(3, 1, 0);
    rb_tinfo("output.weight", 2, ne32x2, 19, 0); /* IQ-something, not in the table */
    rb_pad_zeros(32, 256);
    refused(rb_save("ttype.gguf"), "tensor output.weight", "unknown tensor type 19");
}

static void test_19_ne0_not_multiple_of_block(void **state)
{
    rb_header(3, 1, 0);
    rb_tinfo("token_embd.weight", 2, (const uint64_t[]){48, 2}, GGUF_T_Q8_0, 0);
    rb_pad_zeros(32, 256);
    refused(rb_save("block.gguf"), "tensor token_embd.weight",
            "ne[0] = 48 is not a multiple of the Q8_0 block size 32");
    rb_header(3, 1, 0);
    rb_tinfo("k", 1, (const uint64_t[]){128}, GGUF_T_Q4_K, 0);
    rb_pad_zeros(32, 256);
    refused(rb_save("block-k.gguf"), "tensor k", "Q4_K block size 256");
}

static void test_20_dims(void **state)
{
    rb_header(3, 1, 0);
    rb_tinfo("scalar", 0, NULL, GGUF_T_F32, 0);
    rb_pad_zeros(32, 32);
    refused(rb_save("dims0.gguf"), "tensor scalar", "0 dimensions (want 1 to 4)");
    rb_header(3, 1, 0);
    rb_tinfo("five", 5, (const uint64_t[]){1, 1, 1, 1, 1}, GGUF_T_F32, 0);
    rb_pad_zeros(32, 32);
    refused(rb_save("dims5.gguf"), "tensor five", "5 dimensions");
    rb_header(3, 1, 0);
    rb_tinfo("neg", 2, (const uint64_t[]){4, 1ull << 63}, GGUF_T_F32, 0);
    rb_pad_zeros(32, 32);
    refused(rb_save("dim-neg.gguf"), "tensor neg", "ne[1]");
    rb_header(3, 1, 0);
    rb_tinfo("prod", 3, (const uint64_t[]){1ull << 32, 1ull << 20, 1ull << 12}, GGUF_T_F32, 0);
    rb_pad_zeros(32, 32);
    refused(rb_save("dim-prod.gguf"), "tensor prod", "element count overflows int64");
    rb_header(3, 1, 0);
    rb_tinfo("bytes", 2, (const uint64_t[]){1ull << 32, 1ull << 30}, GGUF_T_F64, 0);
    rb_pad_zeros(32, 32);
    refused(rb_save("dim-bytes.gguf"), "tensor bytes", "byte size overflows");
}

static void test_21_duplicates(void **state)
{
    rb_header(3, 0, 3);
    rb_kv_u32("llama.block_count", 30);
    rb_kv_u32("llama.context_length", 2048);
    rb_kv_u32("llama.block_count", 31);
    refused(rb_save("dupkey.gguf"), "key 'llama.block_count'", "appears twice");
    rb_header(3, 2, 0);
    rb_tinfo("blk.0.attn_k.weight", 1, ne4, GGUF_T_F32, 0);
    rb_tinfo("blk.0.attn_k.weight", 1, ne4, GGUF_T_F32, 32);
    rb_pad_zeros(32, 64);
    refused(rb_save("duptensor.gguf"), "tensor blk.0.attn_k.weight", "appears twice");
}

static void test_22_alignment_key(void **state)
{
    rb_header(3, 0, 1);
    rb_kv_u32("general.alignment", 48);
    refused(rb_save("align48.gguf"), "key 'general.alignment'", "48 is not a power of two");
    rb_header(3, 0, 1);
    rb_kv_u32("general.alignment", 0);
    refused(rb_save("align0.gguf"), "key 'general.alignment'", "0 is not a power of two");
    rb_header(3, 0, 1);
    rb_str("general.alignment");
    rb_le(GGUF_STR, 4);
    rb_str("32");
    refused(rb_save("alignstr.gguf"), "key 'general.alignment'", "is string");
}

static void test_23_absurd_counts_and_names(void **state)
{
    rb_header(3, 1ull << 40, 0);
    refused(rb_save("ntensors.gguf"), "1099511627776 tensors", "at most 1048576");
    rb_header(3, 0, (1u << 20) + 1);
    refused(rb_save("nkv.gguf"), "1048577 metadata keys", "at most");
    rb_header(3, 1000, 1000);
    rb_kv_u32("x", 1);
    refused(rb_save("counts.gguf"), "1000 tensors and 1000 metadata keys need at least",
            NULL);
    rb_header(3, 0, 1);
    rb_le(3, 8);
    rb_le('a', 1), rb_le(0, 1), rb_le('b', 1);
    rb_le(GGUF_U8, 4);
    rb_le(0, 1);
    refused(rb_save("nulkey.gguf"), "metadata entry 0", "holds a NUL byte");
    rb_header(3, 0, 1);
    rb_le(70000, 8);
    for (int i = 0; i < 70000; i++)
        rb_le('k', 1);
    rb_le(GGUF_U8, 4);
    rb_le(0, 1);
    refused(rb_save("longkey.gguf"), "metadata entry 0", "70000 bytes long");
}

/* Every proper prefix of a valid file (metadata of every kind, tensors) is
 * that cuts into the last tensor's data is refused with a message naming the
 * file, and nothing reads past the end (ASan watches the exact-size heap
 * copies). */
static void test_24_every_prefix_refused(void **state)
{
    gguf_kv kv[32];
    size_t n = all_kvs(kv);
    static uint8_t data[64 * 2 * 34];
    gguf_tensor ts[] = {tensor("a", GGUF_T_F32, 2, 4, 2, 1, data),
                        tensor("b", GGUF_T_Q8_0, 2, 64, 2, 1, data)};
    const char *p = tpath("prefix.gguf");
    write_ok(p, 3, kv, n, ts, 2);
    FILE *fp = fopen(p, "rb");
    assert_non_null(fp);
    static uint8_t whole[1 << 14];
    size_t len = fread(whole, 1, sizeof whole, fp);
    fclose(fp);
    assert_true(len > 100 && len < sizeof whole);
    cb_err err = {{0}};
    gguf_file *f = gguf_open_mem(whole, len, "mem-whole", &err);
    if (!f)
        fail_msg("%s", err.msg);
    /* The file ends with padding after the last tensor: cuts inside it open. */
    const gguf_tensor *last = gguf_tensor_at(f, 1);
    size_t need = (size_t)(gguf_data_offset(f) + last->offset + last->nbytes);
    gguf_close(f);
    assert_true(need < len);
    for (size_t cut = 0; cut < len; cut++) {
        uint8_t *buf = malloc(cut ? cut : 1);
        memcpy(buf, whole, cut);
        err.msg[0] = '\0';
        f = gguf_open_mem(buf, cut, "mem-cut", &err);
        if (cut < need && f)
            fail_msg("prefix of %zu bytes (of %zu, %zu needed) opened", cut, len, need);
        if (cut < need)
            assert_non_null(strstr(err.msg, "mem-cut"));
        else if (!f)
            fail_msg("prefix of %zu bytes (of %zu, %zu needed): %s", cut, len, need, err.msg);
        gguf_close(f);
        free(buf);
    }
}

/* The committed fixtures double as the fuzzer's seeds: bad-* must be refused
 * (naming the file), the rest must open. */
static void test_25_fixture_folder(void **state)
{
    const char *dir = "tests/fixtures/gguf";
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
            refused(p, NULL, NULL);
            bad++;
        } else {
            gguf_close(open_ok(p));
            good++;
        }
    }
    closedir(d);
    assert_true(good >= 3 && bad >= 4);
}

/* ---- fixture writer ------------------------------------------------------------------------- */

/* Writes the fixture set into dir (CTXBENCH_GGUF_FIXTURES): valid files made
 * with gguf_write and a few malformed ones made with rb_*. */
static int write_fixtures(const char *dir)
{
    outdir = dir;
    gguf_kv kv[32];
    size_t n = all_kvs(kv);
    cb_err err = {{0}};
    static uint8_t data[64 * 4 * 4];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 13);
    gguf_tensor ts[] = {
        tensor("token_embd.weight", GGUF_T_Q8_0, 2, 64, 2, 1, data),
        tensor("blk.0.attn_q.weight", GGUF_T_Q4_1, 2, 32, 4, 1, data),
        tensor("blk.0.attn_norm.weight", GGUF_T_F32, 1, 16, 1, 1, data),
        tensor("blk.0.ffn_up.weight", GGUF_T_F16, 2, 8, 4, 1, data),
    };
    gguf_kv small[] = {kv_s("general.architecture", "llama"),
                       kv_u("llama.block_count", GGUF_U32, 1),
                       kv_f("llama.attention.layer_norm_rms_epsilon", GGUF_F32, 1e-5),
                       kv[19] /* a.str */, kv_u("general.alignment", GGUF_U32, 64)};
    if (gguf_write(tpath("metadata.gguf"), 3, kv, n, NULL, 0, &err) < 0 ||
        gguf_write(tpath("tensors.gguf"), 3, small, 4, ts, 4, &err) < 0 ||
        gguf_write(tpath("align64-v2.gguf"), 2, small, 5, ts, 2, &err) < 0 ||
        gguf_write(tpath("all.gguf"), 3, kv, n, ts, 4, &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    rb_header(3, 1, 0);
    rb_tinfo("blk.3.attn_q.weight", 2, ne32x2, GGUF_T_Q4_1, 0);
    rb_pad_zeros(32, 39);
    rb_save("bad-past-end.gguf");
    rb_header(3, 0, 1);
    rb_str("big");
    rb_le(GGUF_ARR, 4);
    rb_le(GGUF_U64, 4);
    rb_le(1ull << 62, 8);
    rb_save("bad-array-overflow.gguf");
    rb_header(3, 3, 0);
    rb_tinfo("t0", 1, (const uint64_t[]){16}, GGUF_T_F32, 0);
    rb_tinfo("t1", 1, (const uint64_t[]){8}, GGUF_T_F32, 96);
    rb_tinfo("t2", 1, (const uint64_t[]){16}, GGUF_T_F32, 32);
    rb_pad_zeros(32, 128);
    rb_save("bad-overlap.gguf");
    rb_header(3, 1, 0);
    rb_tinfo("output.weight", 2, ne32x2, 19, 0);
    rb_pad_zeros(32, 256);
    rb_save("bad-tensor-type.gguf");
    rb_header(3, 0, 1);
    rb_str("d");
    rb_le(GGUF_ARR, 4);
    for (int i = 0; i < 4; i++) {
        rb_le(GGUF_ARR, 4);
        rb_le(1, 8);
    }
    rb_le(GGUF_U8, 4);
    rb_le(0, 8);
    rb_save("bad-too-deep.gguf");
    return 0;
}

int main(void)
{
    const char *fixdir = getenv("CTXBENCH_GGUF_FIXTURES");
    if (fixdir)
        return write_fixtures(fixdir);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_01_type_tables),
        cmocka_unit_test(test_02_metadata_round_trip),
        cmocka_unit_test(test_03_getters_and_coercion),
        cmocka_unit_test(test_04_tensors_default_alignment),
        cmocka_unit_test(test_05_tensors_other_alignments),
        cmocka_unit_test(test_06_version_2),
        cmocka_unit_test(test_07_writer_refusals),
        cmocka_unit_test(test_08_bad_magic_and_truncated_header),
        cmocka_unit_test(test_09_versions_and_big_endian),
        cmocka_unit_test(test_10_truncated_in_metadata),
        cmocka_unit_test(test_11_string_length_past_end),
        cmocka_unit_test(test_12_array_length_overflow),
        cmocka_unit_test(test_13_nesting_too_deep),
        cmocka_unit_test(test_14_unknown_value_types),
        cmocka_unit_test(test_15_tensor_offset_not_aligned),
        cmocka_unit_test(test_16_tensor_data_past_end),
        cmocka_unit_test(test_17_overlapping_tensors),
        cmocka_unit_test(test_18_unknown_tensor_type),
        cmocka_unit_test(test_19_ne0_not_multiple_of_block),
        cmocka_unit_test(test_20_dims),
        cmocka_unit_test(test_21_duplicates),
        cmocka_unit_test(test_22_alignment_key),
        cmocka_unit_test(test_23_absurd_counts_and_names),
        cmocka_unit_test(test_24_every_prefix_refused),
        cmocka_unit_test(test_25_fixture_folder),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
