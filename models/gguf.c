/* models/gguf.c — the GGUF reader (v2, v3, little-endian), its lookups and
 * typed getters, and the test/fixture writer (see gguf.h).
 *
 * Layout of a file (all integers little-endian):
 *   "GGUF" | u32 version | u64 n_tensors | u64 n_kv
 *   n_kv x  { string key | u32 value type | value }
 *   n_tensors x { string name | u32 n_dims | u64 ne[n_dims] | u32 ggml type | u64 offset }
 *   padding to the alignment | data section (tensor offsets are relative to it)
 * where a string is u64 length + bytes (no NUL), and an array value is
 * u32 element type | u64 count | elements.
 *
 * Memory: keys, names, string-view tables and nested-array tables live in an
 * arena owned by the file and freed at once by gguf_close; nothing is
 * allocated for a count before the file is known to hold that many items.
 *
 * Never: read a byte outside [0, file length), trust a number from the file
 * before checking it, recurse deeper than GGUF_MAX_DEPTH, or write into the
 * mapping (it is PROT_READ). */
#include "models/gguf.h"
#include "util/text.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- type tables ---------------------------------------------------------------- */

static const struct {
    const char *name;
    uint32_t block, size; /* elements per block, bytes per block */
} ttypes[GGUF_T_COUNT] = {
    [GGUF_T_F32] = {"F32", 1, 4},       [GGUF_T_F16] = {"F16", 1, 2},
    [GGUF_T_Q4_0] = {"Q4_0", 32, 18},   [GGUF_T_Q4_1] = {"Q4_1", 32, 20},
    [GGUF_T_Q5_0] = {"Q5_0", 32, 22},   [GGUF_T_Q5_1] = {"Q5_1", 32, 24},
    [GGUF_T_Q8_0] = {"Q8_0", 32, 34},   [GGUF_T_Q8_1] = {"Q8_1", 32, 36},
    [GGUF_T_Q2_K] = {"Q2_K", 256, 84},  [GGUF_T_Q3_K] = {"Q3_K", 256, 110},
    [GGUF_T_Q4_K] = {"Q4_K", 256, 144}, [GGUF_T_Q5_K] = {"Q5_K", 256, 176},
    [GGUF_T_Q6_K] = {"Q6_K", 256, 210}, [GGUF_T_Q8_K] = {"Q8_K", 256, 292},
    [GGUF_T_I8] = {"I8", 1, 1},         [GGUF_T_I16] = {"I16", 1, 2},
    [GGUF_T_I32] = {"I32", 1, 4},       [GGUF_T_I64] = {"I64", 1, 8},
    [GGUF_T_F64] = {"F64", 1, 8},       [GGUF_T_BF16] = {"BF16", 1, 2},
};

static const struct {
    const char *name;
    size_t size;
} vtypes[GGUF_VTYPE_COUNT] = {
    [GGUF_U8] = {"uint8", 1},   [GGUF_I8] = {"int8", 1},       [GGUF_U16] = {"uint16", 2},
    [GGUF_I16] = {"int16", 2},  [GGUF_U32] = {"uint32", 4},    [GGUF_I32] = {"int32", 4},
    [GGUF_F32] = {"float32", 4}, [GGUF_BOOL] = {"bool", 1},    [GGUF_STR] = {"string", 0},
    [GGUF_ARR] = {"array", 0},  [GGUF_U64] = {"uint64", 8},    [GGUF_I64] = {"int64", 8},
    [GGUF_F64] = {"float64", 8},
};

const char *gguf_type_name(uint32_t type)
{
    return type < GGUF_T_COUNT && ttypes[type].name ? ttypes[type].name : "?";
}

uint32_t gguf_type_block(uint32_t type)
{
    return type < GGUF_T_COUNT ? ttypes[type].block : 0;
}

uint32_t gguf_type_size(uint32_t type)
{
    return type < GGUF_T_COUNT ? ttypes[type].size : 0;
}

const char *gguf_vtype_name(gguf_vtype t)
{
    return (unsigned)t < GGUF_VTYPE_COUNT ? vtypes[t].name : "?";
}

size_t gguf_vtype_size(gguf_vtype t)
{
    return (unsigned)t < GGUF_VTYPE_COUNT ? vtypes[t].size : 0;
}

static bool vtype_is_int(gguf_vtype t)
{
    return t == GGUF_U8 || t == GGUF_I8 || t == GGUF_U16 || t == GGUF_I16 || t == GGUF_U32 ||
           t == GGUF_I32 || t == GGUF_U64 || t == GGUF_I64;
}

static bool vtype_is_unsigned(gguf_vtype t)
{
    return t == GGUF_U8 || t == GGUF_U16 || t == GGUF_U32 || t == GGUF_U64;
}

/* ---- the file and its arena ------------------------------------------------------------ */

typedef struct arena_chunk {
    struct arena_chunk *next;
    size_t used, cap;
    max_align_t mem[];
} arena_chunk;

struct gguf_file {
    char *path;            /* for errors */
    void *map;             /* mmap base, or NULL when borrowed from memory */
    size_t map_len;
    const uint8_t *bytes;  /* the whole file */
    size_t len;
    uint32_t version, alignment;
    uint64_t data_off;     /* start of the data section in the file */
    gguf_kv *kvs;          /* file order */
    size_t n_kv;
    const gguf_kv **kv_sorted;     /* by key */
    gguf_tensor *tensors;          /* file order */
    size_t n_tensors;
    const gguf_tensor **t_sorted;  /* by name */
    arena_chunk *arena;
};

/* size bytes from f's arena (aligned like max_align_t), or NULL. */
static void *arena_alloc(gguf_file *f, size_t size)
{
    const size_t al = sizeof(max_align_t);
    size = (size + al - 1) / al * al;
    arena_chunk *c = f->arena;
    if (!c || c->cap - c->used < size) {
        size_t cap = size > (1u << 16) ? size : (1u << 16);
        c = malloc(sizeof *c + cap);
        if (!c)
            return NULL;
        c->cap = cap;
        c->used = 0;
        /* A big one-off block goes behind the current chunk so the current one
         * keeps being filled. */
        if (f->arena && size > (1u << 16)) {
            c->next = f->arena->next;
            f->arena->next = c;
        } else {
            c->next = f->arena;
            f->arena = c;
        }
    }
    void *p = (char *)c->mem + c->used;
    c->used += size;
    return p;
}

static void arena_free(arena_chunk *c)
{
    while (c) {
        arena_chunk *next = c->next;
        free(c);
        c = next;
    }
}

/* ---- little-endian reads ---------------------------------------------------------------- */

static uint64_t le(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = n; i-- > 0;)
        v = (v << 8) | p[i];
    return v;
}

/* Decodes one packed scalar of type t at p into a value. */
static void decode_scalar(gguf_vtype t, const uint8_t *p, gguf_value *v)
{
    v->type = t;
    uint64_t raw = le(p, vtypes[t].size);
    switch (t) {
    case GGUF_U8: case GGUF_U16: case GGUF_U32: case GGUF_U64:
        v->u64 = raw;
        break;
    case GGUF_I8:
        v->i64 = (int8_t)(uint8_t)raw;
        break;
    case GGUF_I16:
        v->i64 = (int16_t)(uint16_t)raw;
        break;
    case GGUF_I32:
        v->i64 = (int32_t)(uint32_t)raw;
        break;
    case GGUF_I64:
        v->i64 = (int64_t)raw;
        break;
    case GGUF_F32: {
        uint32_t u = (uint32_t)raw;
        float x;
        memcpy(&x, &u, sizeof x);
        v->f64 = x;
        break;
    }
    case GGUF_F64:
        memcpy(&v->f64, &raw, sizeof v->f64);
        break;
    case GGUF_BOOL:
        v->b = raw != 0;
        break;
    default:
        break;
    }
}

/* ---- parsing ------------------------------------------------------------------------- */

/* A parse in progress: the file, the read position, and what is being read
 * ("key 'x'", "tensor 'y'") for errors. */
typedef struct parser {
    gguf_file *f;
    size_t pos;
    char ctx[192];
    cb_err *err;
} parser;

static size_t remaining(const parser *p)
{
    return p->f->len - p->pos;
}

static int truncated(parser *p, const char *what, uint64_t need)
{
    return cb_fail(p->err, "%s: %s: truncated reading %s: need %llu bytes at offset %zu, "
                   "the file has %zu", p->f->path, p->ctx, what, (unsigned long long)need,
                   p->pos, p->f->len);
}

static int rd_u32(parser *p, const char *what, uint32_t *out)
{
    if (remaining(p) < 4) {
        truncated(p, what, 4);
        return -1;
    }
    *out = (uint32_t)le(p->f->bytes + p->pos, 4);
    p->pos += 4;
    return 0;
}

static int rd_u64(parser *p, const char *what, uint64_t *out)
{
    if (remaining(p) < 8) {
        truncated(p, what, 8);
        return -1;
    }
    *out = le(p->f->bytes + p->pos, 8);
    p->pos += 8;
    return 0;
}

/* Reads a string (u64 length + bytes) as a view. */
static int rd_str(parser *p, const char *what, gguf_str *out)
{
    uint64_t n;
    if (rd_u64(p, what, &n) < 0)
        return -1;
    if (n > remaining(p)) {
        cb_fail(p->err, "%s: %s: %s length %llu at offset %zu runs past the end of the file "
                "(size %zu)", p->f->path, p->ctx, what, (unsigned long long)n, p->pos - 8,
                p->f->len);
        return -1;
    }
    out->ptr = (const char *)p->f->bytes + p->pos;
    out->len = (size_t)n;
    p->pos += (size_t)n;
    return 0;
}

/* Reads a key or tensor name into a NUL-terminated arena copy. */
static int rd_name(parser *p, const char *what, const char **out)
{
    gguf_str s;
    if (rd_str(p, what, &s) < 0)
        return -1;
    if (s.len > GGUF_MAX_NAME)
        return cb_fail(p->err, "%s: %s: %s is %zu bytes long (at most %u)", p->f->path,
                       p->ctx, what, s.len, GGUF_MAX_NAME);
    if (memchr(s.ptr, '\0', s.len))
        return cb_fail(p->err, "%s: %s: %s '%.*s' holds a NUL byte", p->f->path, p->ctx,
                       what, (int)(s.len > 100 ? 100 : s.len), s.ptr);
    char *c = arena_alloc(p->f, s.len + 1);
    if (!c)
        return cb_fail(p->err, "%s: out of memory", p->f->path);
    memcpy(c, s.ptr, s.len);
    c[s.len] = '\0';
    *out = c;
    return 0;
}

static int parse_value(parser *p, gguf_vtype type, gguf_value *v, int depth);

/* Bool bytes must be 0 or 1. */
static int check_bools(parser *p, const uint8_t *b, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++)
        if (b[i] > 1)
            return cb_fail(p->err, "%s: %s: bool value %u is neither 0 nor 1", p->f->path,
                           p->ctx, b[i]);
    return 0;
}

/* Checks that n elements of at least min_size bytes each fit in the rest of
 * the file. */
static int check_count(parser *p, gguf_vtype et, uint64_t n, size_t min_size)
{
    uint64_t need;
    if (__builtin_mul_overflow(n, (uint64_t)min_size, &need))
        return cb_fail(p->err, "%s: %s: array of %llu %s needs more than 2^64 bytes, only "
                       "%zu remain in the file", p->f->path, p->ctx, (unsigned long long)n,
                       vtypes[et].name, remaining(p));
    if (need > remaining(p))
        return cb_fail(p->err, "%s: %s: array of %llu %s needs at least %llu bytes, only "
                       "%zu remain in the file", p->f->path, p->ctx, (unsigned long long)n,
                       vtypes[et].name, (unsigned long long)need, remaining(p));
    return 0;
}

static int parse_array(parser *p, gguf_value *v, int depth)
{
    if (depth > GGUF_MAX_DEPTH)
        return cb_fail(p->err, "%s: %s: arrays nested deeper than %d levels", p->f->path,
                       p->ctx, GGUF_MAX_DEPTH);
    uint32_t et;
    uint64_t n;
    if (rd_u32(p, "array element type", &et) < 0 || rd_u64(p, "array length", &n) < 0)
        return -1;
    if (et >= GGUF_VTYPE_COUNT)
        return cb_fail(p->err, "%s: %s: array of unknown value type %u", p->f->path, p->ctx,
                       et);
    v->arr.type = (gguf_vtype)et;
    v->arr.n = n;
    if (et == GGUF_STR || et == GGUF_ARR) {
        /* A string takes at least 8 bytes, an array at least 12. */
        if (check_count(p, v->arr.type, n, et == GGUF_STR ? 8 : 12) < 0)
            return -1;
        size_t each = et == GGUF_STR ? sizeof(gguf_str) : sizeof(gguf_value);
        void *tab = arena_alloc(p->f, (size_t)n * each);
        if (!tab && n)
            return cb_fail(p->err, "%s: out of memory", p->f->path);
        for (uint64_t i = 0; i < n; i++) {
            int rc = et == GGUF_STR
                         ? rd_str(p, "array string", &((gguf_str *)tab)[i])
                         : parse_value(p, GGUF_ARR, &((gguf_value *)tab)[i], depth);
            if (rc < 0)
                return -1;
        }
        if (et == GGUF_STR)
            v->arr.strs = tab;
        else
            v->arr.items = tab;
        return 0;
    }
    if (check_count(p, v->arr.type, n, vtypes[et].size) < 0)
        return -1;
    const uint8_t *raw = p->f->bytes + p->pos;
    if (et == GGUF_BOOL && check_bools(p, raw, n) < 0)
        return -1;
    v->arr.raw = raw;
    p->pos += (size_t)n * vtypes[et].size;
    return 0;
}

/* Parses one value of the given type at the read position; depth is the
 * number of arrays enclosing it. */
static int parse_value(parser *p, gguf_vtype type, gguf_value *v, int depth)
{
    memset(v, 0, sizeof *v);
    v->type = type;
    if (type == GGUF_STR)
        return rd_str(p, "string value", &v->str);
    if (type == GGUF_ARR)
        return parse_array(p, v, depth + 1);
    size_t size = vtypes[type].size;
    if (remaining(p) < size)
        return truncated(p, "the value", size);
    if (type == GGUF_BOOL && check_bools(p, p->f->bytes + p->pos, 1) < 0)
        return -1;
    decode_scalar(type, p->f->bytes + p->pos, v);
    p->pos += size;
    return 0;
}

static int cmp_kv_ptr(const void *a, const void *b)
{
    return strcmp((*(const gguf_kv *const *)a)->key, (*(const gguf_kv *const *)b)->key);
}

static int cmp_tensor_ptr(const void *a, const void *b)
{
    return strcmp((*(const gguf_tensor *const *)a)->name,
                  (*(const gguf_tensor *const *)b)->name);
}

static int parse_kvs(parser *p)
{
    gguf_file *f = p->f;
    for (size_t i = 0; i < f->n_kv; i++) {
        gguf_kv *kv = &f->kvs[i];
        snprintf(p->ctx, sizeof p->ctx, "metadata entry %zu", i);
        if (rd_name(p, "key", &kv->key) < 0)
            return -1;
        snprintf(p->ctx, sizeof p->ctx, "key '%.160s'", kv->key);
        uint32_t type;
        if (rd_u32(p, "value type", &type) < 0)
            return -1;
        if (type >= GGUF_VTYPE_COUNT)
            return cb_fail(p->err, "%s: %s: unknown value type %u", f->path, p->ctx, type);
        if (parse_value(p, (gguf_vtype)type, &kv->val, 0) < 0)
            return -1;
        f->kv_sorted[i] = kv;
    }
    qsort(f->kv_sorted, f->n_kv, sizeof *f->kv_sorted, cmp_kv_ptr);
    for (size_t i = 1; i < f->n_kv; i++)
        if (strcmp(f->kv_sorted[i - 1]->key, f->kv_sorted[i]->key) == 0)
            return cb_fail(p->err, "%s: key '%.160s' appears twice", f->path,
                           f->kv_sorted[i]->key);
    return 0;
}

/* Sets f->alignment from general.alignment (default 32). */
static int take_alignment(parser *p)
{
    gguf_file *f = p->f;
    f->alignment = GGUF_DEFAULT_ALIGNMENT;
    const gguf_value *v = gguf_find_key(f, "general.alignment");
    if (!v)
        return 0;
    uint64_t a;
    if (!gguf_val_u64(v, &a))
        return cb_fail(p->err, "%s: key 'general.alignment' is %s, want a non-negative "
                       "integer", f->path, gguf_vtype_name(v->type));
    if (a == 0 || (a & (a - 1)) != 0 || a > (1u << 30))
        return cb_fail(p->err, "%s: key 'general.alignment': %llu is not a power of two in "
                       "[1, 2^30]", f->path, (unsigned long long)a);
    f->alignment = (uint32_t)a;
    return 0;
}

/* Reads the shape and checks it: n_dims in 1..4, each ne <= INT64_MAX, the
 * element count fitting in int64. */
static int parse_shape(parser *p, gguf_tensor *t)
{
    if (rd_u32(p, "n_dims", &t->n_dims) < 0)
        return -1;
    if (t->n_dims < 1 || t->n_dims > GGUF_MAX_DIMS)
        return cb_fail(p->err, "%s: %s: %u dimensions (want 1 to %d)", p->f->path, p->ctx,
                       t->n_dims, GGUF_MAX_DIMS);
    uint64_t nel = 1;
    for (int d = 0; d < GGUF_MAX_DIMS; d++)
        t->ne[d] = 1;
    for (uint32_t d = 0; d < t->n_dims; d++) {
        uint64_t ne;
        if (rd_u64(p, "dimension", &ne) < 0)
            return -1;
        if (ne > INT64_MAX)
            return cb_fail(p->err, "%s: %s: ne[%u] = %llu is not a valid size", p->f->path,
                           p->ctx, d, (unsigned long long)ne);
        t->ne[d] = (int64_t)ne;
        if (__builtin_mul_overflow(nel, ne, &nel) || nel > INT64_MAX)
            return cb_fail(p->err, "%s: %s: element count overflows int64", p->f->path,
                           p->ctx);
    }
    t->nelems = nel;
    return 0;
}

/* Reads one tensor info; size and range checks come later, once the data
 * section's start is known. */
static int parse_tensor_info(parser *p, size_t i)
{
    gguf_tensor *t = &p->f->tensors[i];
    snprintf(p->ctx, sizeof p->ctx, "tensor info %zu", i);
    if (rd_name(p, "tensor name", &t->name) < 0)
        return -1;
    snprintf(p->ctx, sizeof p->ctx, "tensor %.160s", t->name);
    if (parse_shape(p, t) < 0 || rd_u32(p, "tensor type", &t->type) < 0 ||
        rd_u64(p, "tensor offset", &t->offset) < 0)
        return -1;
    if (gguf_type_block(t->type) == 0)
        return cb_fail(p->err, "%s: %s: unknown tensor type %u", p->f->path, p->ctx, t->type);
    uint32_t blk = gguf_type_block(t->type);
    if (t->ne[0] % blk != 0)
        return cb_fail(p->err, "%s: %s: ne[0] = %lld is not a multiple of the %s block size "
                       "%u", p->f->path, p->ctx, (long long)t->ne[0], gguf_type_name(t->type),
                       blk);
    /* nelems / blk * size, at most (2^63 / 1) * 292 ... checked. */
    if (__builtin_mul_overflow(t->nelems / blk, (uint64_t)gguf_type_size(t->type), &t->nbytes))
        return cb_fail(p->err, "%s: %s: byte size overflows", p->f->path, p->ctx);
    p->f->t_sorted[i] = t;
    return 0;
}

/* Checks each tensor's data range against the data section and sets data. */
static int place_tensors(parser *p)
{
    gguf_file *f = p->f;
    for (size_t i = 0; i < f->n_tensors; i++) {
        gguf_tensor *t = &f->tensors[i];
        if (t->offset % f->alignment != 0)
            return cb_fail(p->err, "%s: tensor %.160s: offset %llu is not a multiple of the "
                           "alignment %u", f->path, t->name, (unsigned long long)t->offset,
                           f->alignment);
        uint64_t begin, end;
        if (__builtin_add_overflow(f->data_off, t->offset, &begin) ||
            __builtin_add_overflow(begin, t->nbytes, &end))
            return cb_fail(p->err, "%s: tensor %.160s: offset %llu + %llu bytes overflows",
                           f->path, t->name, (unsigned long long)t->offset,
                           (unsigned long long)t->nbytes);
        if (end > f->len)
            return cb_fail(p->err, "%s: tensor %.160s: data [%llu, %llu) runs past the end "
                           "of the file (size %zu)", f->path, t->name,
                           (unsigned long long)begin, (unsigned long long)end, f->len);
        t->data = f->bytes + begin;
    }
    return 0;
}

static int cmp_tensor_offset(const void *a, const void *b)
{
    uint64_t x = (*(const gguf_tensor *const *)a)->offset;
    uint64_t y = (*(const gguf_tensor *const *)b)->offset;
    return x < y ? -1 : x > y;
}

/* Refuses duplicate names, and two tensors sharing a byte (empty tensors
 * share none). */
static int check_tensor_set(parser *p)
{
    gguf_file *f = p->f;
    size_t n = f->n_tensors;
    qsort(f->t_sorted, n, sizeof *f->t_sorted, cmp_tensor_ptr);
    for (size_t i = 1; i < n; i++)
        if (strcmp(f->t_sorted[i - 1]->name, f->t_sorted[i]->name) == 0)
            return cb_fail(p->err, "%s: tensor %.160s appears twice", f->path,
                           f->t_sorted[i]->name);
    const gguf_tensor **by = malloc((n ? n : 1) * sizeof *by);
    if (!by)
        return cb_fail(p->err, "%s: out of memory", f->path);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (f->tensors[i].nbytes)
            by[m++] = &f->tensors[i];
    qsort(by, m, sizeof *by, cmp_tensor_offset);
    int rc = 0;
    for (size_t i = 1; i < m && rc == 0; i++)
        if (by[i]->offset < by[i - 1]->offset + by[i - 1]->nbytes)
            rc = cb_fail(p->err, "%s: tensor %.160s [%llu, +%llu) overlaps tensor %.160s "
                         "[%llu, +%llu) in the data section", f->path, by[i]->name,
                         (unsigned long long)by[i]->offset, (unsigned long long)by[i]->nbytes,
                         by[i - 1]->name, (unsigned long long)by[i - 1]->offset,
                         (unsigned long long)by[i - 1]->nbytes);
    free(by);
    return rc;
}

/* Magic and version: "GGUF", then 2 or 3; refuses v1 and big-endian files. */
static int parse_magic_version(parser *p)
{
    gguf_file *f = p->f;
    const uint8_t *b = f->bytes;
    if (f->len < 8)
        return cb_fail(p->err, "%s: truncated header: %zu bytes, a GGUF header needs 24",
                       f->path, f->len);
    if (memcmp(b, "GGUF", 4) != 0)
        return cb_fail(p->err, "%s: bad magic %02x %02x %02x %02x (want \"GGUF\")", f->path,
                       b[0], b[1], b[2], b[3]);
    uint32_t v = (uint32_t)le(b + 4, 4);
    if (v != 0 && (v & 0xffffu) == 0)
        return cb_fail(p->err, "%s: version field 0x%08x looks byte-swapped: a big-endian "
                       "GGUF file (version %u), only little-endian files are supported",
                       f->path, v, (unsigned)le(b + 4, 4) >> 24);
    if (v == 1)
        return cb_fail(p->err, "%s: GGUF version 1 is not supported (2 and 3 only)", f->path);
    if (v != 2 && v != 3)
        return cb_fail(p->err, "%s: unsupported GGUF version %u (2 and 3 only)", f->path, v);
    if (f->len < 24)
        return cb_fail(p->err, "%s: truncated header: %zu bytes, a GGUF header needs 24",
                       f->path, f->len);
    f->version = v;
    p->pos = 8;
    return 0;
}

/* Reads the counts and allocates the tables they size, after checking that
 * the file can hold that many entries (at least 13 bytes per kv, 32 per
 * tensor info). */
static int parse_counts(parser *p)
{
    gguf_file *f = p->f;
    uint64_t nt, nkv;
    snprintf(p->ctx, sizeof p->ctx, "header");
    if (rd_u64(p, "tensor count", &nt) < 0 || rd_u64(p, "metadata count", &nkv) < 0)
        return -1;
    if (nt > GGUF_MAX_TENSORS || nkv > GGUF_MAX_KV)
        return cb_fail(p->err, "%s: %llu tensors and %llu metadata keys: at most %u of each",
                       f->path, (unsigned long long)nt, (unsigned long long)nkv,
                       GGUF_MAX_TENSORS);
    if (nt * 32 + nkv * 13 > remaining(p))
        return cb_fail(p->err, "%s: %llu tensors and %llu metadata keys need at least %llu "
                       "bytes, the file has %zu after the header", f->path,
                       (unsigned long long)nt, (unsigned long long)nkv,
                       (unsigned long long)(nt * 32 + nkv * 13), remaining(p));
    f->n_tensors = (size_t)nt;
    f->n_kv = (size_t)nkv;
    f->kvs = calloc(f->n_kv + 1, sizeof *f->kvs);
    f->kv_sorted = calloc(f->n_kv + 1, sizeof *f->kv_sorted);
    f->tensors = calloc(f->n_tensors + 1, sizeof *f->tensors);
    f->t_sorted = calloc(f->n_tensors + 1, sizeof *f->t_sorted);
    if (!f->kvs || !f->kv_sorted || !f->tensors || !f->t_sorted)
        return cb_fail(p->err, "%s: out of memory", f->path);
    return 0;
}

static int parse_file(gguf_file *f, cb_err *err)
{
    parser p = {.f = f, .err = err};
    if (parse_magic_version(&p) < 0 || parse_counts(&p) < 0 || parse_kvs(&p) < 0 ||
        take_alignment(&p) < 0)
        return -1;
    for (size_t i = 0; i < f->n_tensors; i++)
        if (parse_tensor_info(&p, i) < 0)
            return -1;
    /* The data section starts at the next multiple of the alignment. */
    f->data_off = ((uint64_t)p.pos + f->alignment - 1) / f->alignment * f->alignment;
    return place_tensors(&p) < 0 ? -1 : check_tensor_set(&p);
}

/* ---- open / close ----------------------------------------------------------------------- */

static gguf_file *file_new(const char *name, cb_err *err)
{
    gguf_file *f = calloc(1, sizeof *f);
    if (f && !(f->path = strdup(name))) {
        free(f);
        f = NULL;
    }
    if (!f)
        cb_fail(err, "%s: out of memory", name);
    return f;
}

/* Maps path read-only into f (a zero-length file maps nothing). */
static int map_file(gguf_file *f, const char *path, cb_err *err)
{
    static const uint8_t empty[1]; /* a zero-length file parses from here */
    void *m;
    if (cb_map_file(path, &m, &f->len, err) != 0)
        return -1;
    f->map = m;
    f->map_len = f->len;
    f->bytes = m ? m : empty;
    return 0;
}

gguf_file *gguf_open(const char *path, cb_err *err)
{
    gguf_file *f = file_new(path, err);
    if (!f)
        return NULL;
    if (map_file(f, path, err) < 0 || parse_file(f, err) < 0) {
        gguf_close(f);
        return NULL;
    }
    return f;
}

gguf_file *gguf_open_mem(const void *buf, size_t len, const char *name, cb_err *err)
{
    gguf_file *f = file_new(name, err);
    if (!f)
        return NULL;
    static const uint8_t empty[1];
    f->bytes = buf ? buf : empty;
    f->len = buf ? len : 0;
    if (parse_file(f, err) < 0) {
        gguf_close(f);
        return NULL;
    }
    return f;
}

void gguf_close(gguf_file *f)
{
    if (!f)
        return;
    if (f->map)
        munmap(f->map, f->map_len);
    arena_free(f->arena);
    free(f->kvs);
    free(f->kv_sorted);
    free(f->tensors);
    free(f->t_sorted);
    free(f->path);
    free(f);
}

uint32_t gguf_version(const gguf_file *f) { return f->version; }
uint32_t gguf_alignment(const gguf_file *f) { return f->alignment; }
uint64_t gguf_data_offset(const gguf_file *f) { return f->data_off; }
const char *gguf_path(const gguf_file *f) { return f->path; }
size_t gguf_size(const gguf_file *f) { return f->len; }

/* ---- metadata lookups ----------------------------------------------------------------------- */

size_t gguf_kv_count(const gguf_file *f)
{
    return f->n_kv;
}

const gguf_kv *gguf_kv_at(const gguf_file *f, size_t i)
{
    return i < f->n_kv ? &f->kvs[i] : NULL;
}

const gguf_value *gguf_find_key(const gguf_file *f, const char *key)
{
    gguf_kv probe = {.key = key};
    const gguf_kv *pp = &probe;
    const gguf_kv **hit = bsearch(&pp, f->kv_sorted, f->n_kv, sizeof *f->kv_sorted, cmp_kv_ptr);
    return hit ? &(*hit)->val : NULL;
}

bool gguf_val_u64(const gguf_value *v, uint64_t *out)
{
    if (!vtype_is_int(v->type))
        return false;
    if (!vtype_is_unsigned(v->type) && v->i64 < 0)
        return false;
    *out = vtype_is_unsigned(v->type) ? v->u64 : (uint64_t)v->i64;
    return true;
}

bool gguf_val_i64(const gguf_value *v, int64_t *out)
{
    if (!vtype_is_int(v->type))
        return false;
    if (vtype_is_unsigned(v->type) && v->u64 > INT64_MAX)
        return false;
    *out = vtype_is_unsigned(v->type) ? (int64_t)v->u64 : v->i64;
    return true;
}

bool gguf_val_f64(const gguf_value *v, double *out)
{
    if (v->type != GGUF_F32 && v->type != GGUF_F64)
        return false;
    *out = v->f64;
    return true;
}

/* Writes a short rendering of a scalar value into buf (for errors). */
static void format_value(const gguf_value *v, char *buf, size_t cap)
{
    if (vtype_is_unsigned(v->type))
        snprintf(buf, cap, "%llu", (unsigned long long)v->u64);
    else if (vtype_is_int(v->type))
        snprintf(buf, cap, "%lld", (long long)v->i64);
    else if (v->type == GGUF_F32 || v->type == GGUF_F64)
        snprintf(buf, cap, "%g", v->f64);
    else if (v->type == GGUF_BOOL)
        snprintf(buf, cap, "%s", v->b ? "true" : "false");
    else
        snprintf(buf, cap, "a value");
}

/* The value under key, or NULL with err naming the file and the key. */
static const gguf_value *need_key(const gguf_file *f, const char *key, cb_err *err)
{
    const gguf_value *v = gguf_find_key(f, key);
    if (!v)
        cb_fail(err, "%s: key '%s' is missing", f->path, key);
    return v;
}

/* "is <type>, want <want>", or for an integer that is out of an integer
 * type's range "= <value> (<type>) does not fit in <want>". */
static int wrong_type(const gguf_file *f, const char *key, const gguf_value *v,
                      const char *want, cb_err *err)
{
    bool want_int = strncmp(want, "int", 3) == 0 || strncmp(want, "uint", 4) == 0;
    if (want_int && vtype_is_int(v->type)) {
        char buf[64];
        format_value(v, buf, sizeof buf);
        return cb_fail(err, "%s: key '%s' = %s (%s) does not fit in %s", f->path, key, buf,
                       gguf_vtype_name(v->type), want);
    }
    return cb_fail(err, "%s: key '%s' is %s, want %s", f->path, key, gguf_vtype_name(v->type),
                   want);
}

int gguf_get_u32(const gguf_file *f, const char *key, uint32_t *out, cb_err *err)
{
    const gguf_value *v = need_key(f, key, err);
    uint64_t x;
    if (!v)
        return -1;
    if (!gguf_val_u64(v, &x) || x > UINT32_MAX)
        return wrong_type(f, key, v, "uint32", err);
    *out = (uint32_t)x;
    return 0;
}

int gguf_get_u64(const gguf_file *f, const char *key, uint64_t *out, cb_err *err)
{
    const gguf_value *v = need_key(f, key, err);
    if (!v)
        return -1;
    return gguf_val_u64(v, out) ? 0 : wrong_type(f, key, v, "uint64", err);
}

int gguf_get_i64(const gguf_file *f, const char *key, int64_t *out, cb_err *err)
{
    const gguf_value *v = need_key(f, key, err);
    if (!v)
        return -1;
    return gguf_val_i64(v, out) ? 0 : wrong_type(f, key, v, "int64", err);
}

int gguf_get_f64(const gguf_file *f, const char *key, double *out, cb_err *err)
{
    const gguf_value *v = need_key(f, key, err);
    if (!v)
        return -1;
    return gguf_val_f64(v, out) ? 0 : wrong_type(f, key, v, "a float", err);
}

int gguf_get_f32(const gguf_file *f, const char *key, float *out, cb_err *err)
{
    double x = 0;
    if (gguf_get_f64(f, key, &x, err) < 0)
        return -1;
    *out = (float)x;
    return 0;
}

int gguf_get_bool(const gguf_file *f, const char *key, bool *out, cb_err *err)
{
    const gguf_value *v = need_key(f, key, err);
    if (!v)
        return -1;
    if (v->type != GGUF_BOOL)
        return wrong_type(f, key, v, "bool", err);
    *out = v->b;
    return 0;
}

int gguf_get_str(const gguf_file *f, const char *key, gguf_str *out, cb_err *err)
{
    const gguf_value *v = need_key(f, key, err);
    if (!v)
        return -1;
    if (v->type != GGUF_STR)
        return wrong_type(f, key, v, "string", err);
    *out = v->str;
    return 0;
}

int gguf_get_arr(const gguf_file *f, const char *key, const gguf_value **out, cb_err *err)
{
    const gguf_value *v = need_key(f, key, err);
    if (!v)
        return -1;
    if (v->type != GGUF_ARR)
        return wrong_type(f, key, v, "array", err);
    *out = v;
    return 0;
}

/* ---- arrays --------------------------------------------------------------------------------- */

bool gguf_arr_scalar(const gguf_value *a, uint64_t i, gguf_value *out)
{
    if (a->type != GGUF_ARR || i >= a->arr.n || a->arr.type == GGUF_ARR)
        return false;
    memset(out, 0, sizeof *out);
    if (a->arr.type == GGUF_STR) {
        out->type = GGUF_STR;
        out->str = a->arr.strs[i];
        return true;
    }
    size_t sz = vtypes[a->arr.type].size;
    decode_scalar(a->arr.type, (const uint8_t *)a->arr.raw + i * sz, out);
    return true;
}

bool gguf_arr_str(const gguf_value *a, uint64_t i, gguf_str *out)
{
    if (a->type != GGUF_ARR || a->arr.type != GGUF_STR || i >= a->arr.n)
        return false;
    *out = a->arr.strs[i];
    return true;
}

bool gguf_arr_i64(const gguf_value *a, uint64_t i, int64_t *out)
{
    gguf_value v;
    return gguf_arr_scalar(a, i, &v) && gguf_val_i64(&v, out);
}

bool gguf_arr_f32(const gguf_value *a, uint64_t i, float *out)
{
    gguf_value v;
    double x;
    if (!gguf_arr_scalar(a, i, &v) || !gguf_val_f64(&v, &x))
        return false;
    *out = (float)x;
    return true;
}

const gguf_value *gguf_arr_item(const gguf_value *a, uint64_t i)
{
    if (a->type != GGUF_ARR || a->arr.type != GGUF_ARR || i >= a->arr.n)
        return NULL;
    return &a->arr.items[i];
}

bool gguf_str_eq(gguf_str s, const char *c)
{
    size_t n = strlen(c);
    return n == s.len && (n == 0 || memcmp(s.ptr, c, n) == 0);
}

char *gguf_strdup(gguf_str s)
{
    char *c = malloc(s.len + 1);
    if (c) {
        if (s.len)
            memcpy(c, s.ptr, s.len);
        c[s.len] = '\0';
    }
    return c;
}

/* ---- tensors ---------------------------------------------------------------------------------- */

size_t gguf_tensor_count(const gguf_file *f)
{
    return f->n_tensors;
}

const gguf_tensor *gguf_tensor_at(const gguf_file *f, size_t i)
{
    return i < f->n_tensors ? &f->tensors[i] : NULL;
}

const gguf_tensor *gguf_find_tensor(const gguf_file *f, const char *name)
{
    gguf_tensor probe = {.name = name};
    const gguf_tensor *pp = &probe;
    const gguf_tensor **hit =
        bsearch(&pp, f->t_sorted, f->n_tensors, sizeof *f->t_sorted, cmp_tensor_ptr);
    return hit ? *hit : NULL;
}

const void *gguf_tensor_data(const gguf_file *f, const gguf_tensor *t)
{
    return f->bytes + f->data_off + t->offset;
}

/* ---- writing --------------------------------------------------------------------------------- */

/* A growing byte buffer; ok turns false on the first allocation failure. */
typedef struct wbuf {
    uint8_t *p;
    size_t len, cap;
    bool ok;
} wbuf;

static void wb_bytes(wbuf *w, const void *src, size_t n)
{
    if (!w->ok || n == 0)
        return;
    if (w->cap - w->len < n) {
        size_t cap = w->cap ? w->cap : 4096;
        while (cap - w->len < n)
            cap *= 2;
        uint8_t *q = realloc(w->p, cap);
        if (!q) {
            w->ok = false;
            return;
        }
        w->p = q;
        w->cap = cap;
    }
    memcpy(w->p + w->len, src, n);
    w->len += n;
}

static void wb_le(wbuf *w, uint64_t v, size_t n)
{
    uint8_t b[8];
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    wb_bytes(w, b, n);
}

static void wb_str(wbuf *w, const char *s, size_t n)
{
    wb_le(w, n, 8);
    wb_bytes(w, s, n);
}

/* Packs a scalar value of type t. */
static void wb_scalar(wbuf *w, const gguf_value *v)
{
    size_t n = vtypes[v->type].size;
    if (v->type == GGUF_F32) {
        float x = (float)v->f64;
        uint32_t u;
        memcpy(&u, &x, 4);
        wb_le(w, u, 4);
    } else if (v->type == GGUF_F64) {
        uint64_t u;
        memcpy(&u, &v->f64, 8);
        wb_le(w, u, 8);
    } else if (v->type == GGUF_BOOL) {
        wb_le(w, v->b ? 1 : 0, 1);
    } else {
        wb_le(w, vtype_is_unsigned(v->type) ? v->u64 : (uint64_t)v->i64, n);
    }
}

/* Writes a value (without its type id); -1 on a bad type. */
static int wb_value(wbuf *w, const gguf_value *v)
{
    if ((unsigned)v->type >= GGUF_VTYPE_COUNT)
        return -1;
    if (v->type == GGUF_STR) {
        wb_str(w, v->str.ptr, v->str.len);
        return 0;
    }
    if (v->type != GGUF_ARR) {
        wb_scalar(w, v);
        return 0;
    }
    gguf_vtype et = v->arr.type;
    if ((unsigned)et >= GGUF_VTYPE_COUNT)
        return -1;
    wb_le(w, (uint64_t)et, 4);
    wb_le(w, v->arr.n, 8);
    for (uint64_t i = 0; i < v->arr.n; i++) {
        if (et == GGUF_STR)
            wb_str(w, v->arr.strs[i].ptr, v->arr.strs[i].len);
        else if (et == GGUF_ARR && wb_value(w, &v->arr.items[i]) < 0)
            return -1;
    }
    if (et != GGUF_STR && et != GGUF_ARR)
        wb_bytes(w, v->arr.raw, (size_t)v->arr.n * vtypes[et].size);
    return 0;
}

/* The alignment the kvs ask for (general.alignment), or 0 if invalid. */
static uint32_t writer_alignment(const gguf_kv *kvs, size_t n_kv)
{
    for (size_t i = 0; i < n_kv; i++)
        if (strcmp(kvs[i].key, "general.alignment") == 0) {
            uint64_t a;
            if (!gguf_val_u64(&kvs[i].val, &a) || a == 0 || (a & (a - 1)) || a > (1u << 30))
                return 0;
            return (uint32_t)a;
        }
    return GGUF_DEFAULT_ALIGNMENT;
}

/* Checks a tensor given to the writer and returns its byte size, or -1. */
static int64_t writer_tensor_size(const gguf_tensor *t)
{
    uint32_t blk = gguf_type_block(t->type);
    if (!t->name || t->n_dims < 1 || t->n_dims > GGUF_MAX_DIMS || blk == 0 || t->ne[0] < 0 ||
        t->ne[0] % blk)
        return -1;
    uint64_t nel = 1;
    for (uint32_t d = 0; d < t->n_dims; d++)
        if (t->ne[d] < 0 || __builtin_mul_overflow(nel, (uint64_t)t->ne[d], &nel))
            return -1;
    uint64_t nb;
    if (__builtin_mul_overflow(nel / blk, (uint64_t)gguf_type_size(t->type), &nb) ||
        nb > INT64_MAX || nb != t->nbytes)
        return -1;
    return (int64_t)nb;
}

static void wb_pad(wbuf *w, uint32_t align)
{
    static const uint8_t zeros[64];
    while (w->ok && w->len % align) {
        size_t n = align - w->len % align;
        wb_bytes(w, zeros, n < sizeof zeros ? n : sizeof zeros);
    }
}

/* Builds the whole file in w. */
static int writer_build(wbuf *w, uint32_t version, const gguf_kv *kvs, size_t n_kv,
                        const gguf_tensor *ts, size_t n_t, uint32_t align, cb_err *err)
{
    wb_bytes(w, "GGUF", 4);
    wb_le(w, version, 4);
    wb_le(w, n_t, 8);
    wb_le(w, n_kv, 8);
    for (size_t i = 0; i < n_kv; i++) {
        wb_str(w, kvs[i].key, strlen(kvs[i].key));
        wb_le(w, (uint64_t)kvs[i].val.type, 4);
        if (wb_value(w, &kvs[i].val) < 0)
            return cb_fail(err, "gguf_write: key '%s': bad value type", kvs[i].key);
    }
    uint64_t off = 0;
    for (size_t i = 0; i < n_t; i++) {
        const gguf_tensor *t = &ts[i];
        int64_t nb = writer_tensor_size(t);
        if (nb < 0)
            return cb_fail(err, "gguf_write: tensor %s: bad type, shape or nbytes",
                           t->name ? t->name : "(null)");
        wb_str(w, t->name, strlen(t->name));
        wb_le(w, t->n_dims, 4);
        for (uint32_t d = 0; d < t->n_dims; d++)
            wb_le(w, (uint64_t)t->ne[d], 8);
        wb_le(w, t->type, 4);
        wb_le(w, off, 8);
        off = (off + (uint64_t)nb + align - 1) / align * align;
    }
    wb_pad(w, align);
    for (size_t i = 0; i < n_t; i++) {
        wb_bytes(w, ts[i].data, ts[i].nbytes);
        wb_pad(w, align);
    }
    return w->ok ? 0 : cb_fail(err, "gguf_write: out of memory");
}

int gguf_write(const char *path, uint32_t version, const gguf_kv *kvs, size_t n_kv,
               const gguf_tensor *tensors, size_t n_tensors, cb_err *err)
{
    if (version != 2 && version != 3)
        return cb_fail(err, "gguf_write: %s: version %u (2 or 3 only)", path, version);
    uint32_t align = writer_alignment(kvs, n_kv);
    if (!align)
        return cb_fail(err, "gguf_write: %s: general.alignment is not a power of two",
                       path);
    wbuf w = {.ok = true};
    int rc = writer_build(&w, version, kvs, n_kv, tensors, n_tensors, align, err);
    if (rc == 0) {
        FILE *fp = fopen(path, "wb");
        if (!fp) {
            rc = cb_fail(err, "%s: %s", path, strerror(errno));
        } else {
            bool ok = fwrite(w.p, 1, w.len, fp) == w.len;
            if (fclose(fp) != 0 || !ok) {
                rc = cb_fail(err, "%s: write failed", path);
                unlink(path);
            }
        }
    }
    free(w.p);
    return rc;
}
