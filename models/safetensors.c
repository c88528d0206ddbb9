/* models/safetensors.c — the .safetensors reader, sharded sets, f16/bf16
 * conversion (through operators/lowp.h) and the test writer (see safetensors.h).
 *
 * Layout of a file: 8 bytes little-endian header length H, H bytes of JSON
 * (an object: tensor name -> {"dtype", "shape", "data_offsets": [begin, end]},
 * plus an optional "__metadata__"), then the data area; offsets are relative
 * to the start of the data area.
 *
 * Never: read a byte outside [0, file length), trust any number from the file
 * before checking it, or write into the mapping (it is PROT_READ). */
#include "models/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "operators/lowp.h"
#include "util/text.h"

struct st_file {
    char *path;          /* for errors and st_tensor.file */
    void *map;           /* mmap base, or NULL when borrowed from memory */
    size_t map_len;
    const uint8_t *bytes; /* the whole file */
    size_t len;
    json_t *header;      /* owns the tensor name strings */
    json_t *metadata;    /* borrowed from header, or an owned empty object */
    st_tensor *tensors;  /* sorted by name */
    size_t n;
};

struct st_set {
    char *path;              /* what st_set_open was given, for errors */
    st_file **files;
    size_t nfiles;
    const st_tensor **index; /* sorted by name */
    size_t n;
};

static const struct {
    const char *name;
    size_t size;
} dtypes[ST_DTYPE_COUNT] = {
    [ST_F32] = {"F32", 4},   [ST_F16] = {"F16", 2},   [ST_BF16] = {"BF16", 2},
    [ST_F64] = {"F64", 8},   [ST_I64] = {"I64", 8},   [ST_I32] = {"I32", 4},
    [ST_I16] = {"I16", 2},   [ST_I8] = {"I8", 1},     [ST_U64] = {"U64", 8},
    [ST_U32] = {"U32", 4},   [ST_U16] = {"U16", 2},   [ST_U8] = {"U8", 1},
    [ST_BOOL] = {"BOOL", 1}, [ST_F8_E4M3] = {"F8_E4M3", 1}, [ST_F8_E5M2] = {"F8_E5M2", 1},
};

const char *st_dtype_name(st_dtype dt)
{
    return (dt >= 0 && dt < ST_DTYPE_COUNT) ? dtypes[dt].name : "?";
}

size_t st_dtype_size(st_dtype dt)
{
    return (dt >= 0 && dt < ST_DTYPE_COUNT) ? dtypes[dt].size : 0;
}

static int dtype_from_name(const char *s)
{
    for (int i = 0; i < ST_DTYPE_COUNT; i++)
        if (strcmp(s, dtypes[i].name) == 0)
            return i;
    return -1;
}

/* ---- header parsing ------------------------------------------------------- */

static int cmp_tensor_name(const void *a, const void *b)
{
    return strcmp(((const st_tensor *)a)->name, ((const st_tensor *)b)->name);
}

/* Reads a JSON integer in [0, max] into *out; false if it is anything else. */
static bool json_u64(const json_t *v, uint64_t max, uint64_t *out)
{
    if (!json_is_integer(v) || json_integer_value(v) < 0 ||
        (uint64_t)json_integer_value(v) > max)
        return false;
    *out = (uint64_t)json_integer_value(v);
    return true;
}

static int parse_shape(st_file *f, st_tensor *t, const json_t *shape, cb_err *err)
{
    if (!json_is_array(shape))
        return cb_fail(err, "%s: tensor '%s': shape is not an array", f->path, t->name);
    if (json_array_size(shape) > ST_MAX_DIMS)
        return cb_fail(err, "%s: tensor '%s': %zu dimensions, at most %d supported", f->path,
                       t->name, json_array_size(shape), ST_MAX_DIMS);
    t->ndims = (int)json_array_size(shape);
    t->nelems = 1;
    for (int d = 0; d < t->ndims; d++) {
        uint64_t dim;
        if (!json_u64(json_array_get(shape, (size_t)d), INT64_MAX, &dim))
            return cb_fail(err, "%s: tensor '%s': shape[%d] is not a non-negative integer",
                           f->path, t->name, d);
        t->shape[d] = (int64_t)dim;
        if (__builtin_mul_overflow(t->nelems, dim, &t->nelems))
            return cb_fail(err, "%s: tensor '%s': element count overflows", f->path, t->name);
    }
    return 0;
}

/* Checks one header entry and fills t from it; data_start is where the data
 * area begins in the file. */
static int parse_entry(st_file *f, st_tensor *t, const char *name, const json_t *e,
                       size_t data_start, cb_err *err)
{
    t->name = name;
    t->file = f->path;
    if (!json_is_object(e))
        return cb_fail(err, "%s: tensor '%s': entry is not an object", f->path, name);
    const json_t *dt = json_object_get(e, "dtype"), *shape = json_object_get(e, "shape");
    const json_t *offs = json_object_get(e, "data_offsets");
    if (!dt || !shape || !offs)
        return cb_fail(err, "%s: tensor '%s': missing %s", f->path, name,
                       !dt ? "dtype" : !shape ? "shape" : "data_offsets");
    int dtype = json_is_string(dt) ? dtype_from_name(json_string_value(dt)) : -1;
    if (dtype < 0)
        return cb_fail(err, "%s: tensor '%s': unknown dtype %s", f->path, name,
                       json_is_string(dt) ? json_string_value(dt) : "(not a string)");
    t->dtype = (st_dtype)dtype;
    if (parse_shape(f, t, shape, err) < 0)
        return -1;
    uint64_t begin, end, area = f->len - data_start;
    if (!json_is_array(offs) || json_array_size(offs) != 2 ||
        !json_u64(json_array_get(offs, 0), UINT64_MAX, &begin) ||
        !json_u64(json_array_get(offs, 1), UINT64_MAX, &end))
        return cb_fail(err, "%s: tensor '%s': data_offsets is not two non-negative integers",
                       f->path, name);
    if (begin > end)
        return cb_fail(err, "%s: tensor '%s': data_offsets begin %llu > end %llu", f->path,
                       name, (unsigned long long)begin, (unsigned long long)end);
    if (end > area)
        return cb_fail(err, "%s: tensor '%s': data_offsets end %llu beyond the data area "
                       "(%llu bytes)", f->path, name, (unsigned long long)end,
                       (unsigned long long)area);
    uint64_t want;
    if (__builtin_mul_overflow(t->nelems, (uint64_t)dtypes[dtype].size, &want))
        return cb_fail(err, "%s: tensor '%s': byte size overflows", f->path, name);
    if (want != end - begin)
        return cb_fail(err, "%s: tensor '%s': shape x %s needs %llu bytes, data_offsets "
                       "hold %llu", f->path, name, dtypes[dtype].name,
                       (unsigned long long)want, (unsigned long long)(end - begin));
    t->data = f->bytes + data_start + begin;
    t->nbytes = (size_t)(end - begin);
    return 0;
}

static int cmp_tensor_offset(const void *a, const void *b)
{
    const uint8_t *pa = ((const st_tensor *const *)a)[0]->data;
    const uint8_t *pb = ((const st_tensor *const *)b)[0]->data;
    return pa < pb ? -1 : pa > pb;
}

/* Refuses two tensors sharing a byte (empty tensors share none). */
static int check_overlaps(st_file *f, cb_err *err)
{
    int rc = -1;
    const st_tensor **by = malloc((f->n ? f->n : 1) * sizeof *by);
    if (!by)
        return cb_fail(err, "%s: out of memory", f->path);
    size_t m = 0;
    for (size_t i = 0; i < f->n; i++)
        if (f->tensors[i].nbytes)
            by[m++] = &f->tensors[i];
    qsort(by, m, sizeof *by, cmp_tensor_offset);
    for (size_t i = 1; i < m; i++) {
        const uint8_t *prev_end = (const uint8_t *)by[i - 1]->data + by[i - 1]->nbytes;
        if ((const uint8_t *)by[i]->data < prev_end) {
            cb_fail(err, "%s: tensors '%s' and '%s' overlap", f->path, by[i - 1]->name,
                    by[i]->name);
            goto out;
        }
    }
    rc = 0;
out:
    free(by);
    return rc;
}

/* Sets f->metadata from the header's "__metadata__" (must be an object). */
static int take_metadata(st_file *f, cb_err *err)
{
    json_t *m = json_object_get(f->header, "__metadata__");
    if (m && !json_is_object(m))
        return cb_fail(err, "%s: __metadata__ is not an object", f->path);
    f->metadata = m ? json_incref(m) : json_object();
    return f->metadata ? 0 : cb_fail(err, "%s: out of memory", f->path);
}

static int parse_tensors(st_file *f, size_t data_start, cb_err *err)
{
    f->tensors = calloc(json_object_size(f->header) + 1, sizeof *f->tensors);
    if (!f->tensors)
        return cb_fail(err, "%s: out of memory", f->path);
    const char *key;
    json_t *val;
    json_object_foreach(f->header, key, val) {
        if (strcmp(key, "__metadata__") == 0)
            continue;
        if (parse_entry(f, &f->tensors[f->n], key, val, data_start, err) < 0)
            return -1;
        f->n++;
    }
    qsort(f->tensors, f->n, sizeof *f->tensors, cmp_tensor_name);
    return check_overlaps(f, err);
}

/* Parses and checks the whole file in f->bytes[0..len). */
static int parse_file(st_file *f, cb_err *err)
{
    if (f->len < 8)
        return cb_fail(err, "%s: truncated: %zu bytes, no header length", f->path, f->len);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = (hlen << 8) | f->bytes[i];
    if (hlen > ST_MAX_HEADER)
        return cb_fail(err, "%s: header length %llu is absurd (cap %u bytes)", f->path,
                       (unsigned long long)hlen, ST_MAX_HEADER);
    if (hlen > f->len - 8)
        return cb_fail(err, "%s: truncated: header length %llu beyond the file (%zu bytes)",
                       f->path, (unsigned long long)hlen, f->len);
    json_error_t jerr;
    f->header = json_loadb((const char *)f->bytes + 8, (size_t)hlen, JSON_REJECT_DUPLICATES,
                           &jerr);
    if (!f->header)
        return cb_fail(err, "%s: bad JSON header: %s (byte %d)", f->path, jerr.text,
                       jerr.position);
    if (!json_is_object(f->header))
        return cb_fail(err, "%s: JSON header is not an object", f->path);
    if (take_metadata(f, err) < 0)
        return -1;
    return parse_tensors(f, 8 + (size_t)hlen, err);
}

static st_file *file_new(const char *path, cb_err *err)
{
    st_file *f = calloc(1, sizeof *f);
    if (f && !(f->path = strdup(path))) {
        free(f);
        f = NULL;
    }
    if (!f)
        cb_fail(err, "%s: out of memory", path);
    return f;
}

st_file *st_file_open_mem(const void *buf, size_t len, const char *name, cb_err *err)
{
    st_file *f = file_new(name, err);
    if (!f)
        return NULL;
    f->bytes = buf;
    f->len = len;
    if (parse_file(f, err) < 0) {
        st_file_close(f);
        return NULL;
    }
    return f;
}

/* Maps path read-only into f (a zero-length file maps nothing). */
static int map_file(st_file *f, const char *path, cb_err *err)
{
    void *m;
    if (cb_map_file(path, &m, &f->len, err) != 0)
        return -1;
    f->map = m;
    f->map_len = f->len;
    if (m)
        f->bytes = m;
    return 0;
}

st_file *st_file_open(const char *path, cb_err *err)
{
    st_file *f = file_new(path, err);
    if (!f)
        return NULL;
    if (map_file(f, path, err) < 0 || parse_file(f, err) < 0) {
        st_file_close(f);
        return NULL;
    }
    return f;
}

void st_file_close(st_file *f)
{
    if (!f)
        return;
    if (f->map)
        munmap(f->map, f->map_len);
    json_decref(f->metadata);
    json_decref(f->header);
    free(f->tensors);
    free(f->path);
    free(f);
}

size_t st_file_count(const st_file *f)
{
    return f->n;
}

const st_tensor *st_file_tensor(const st_file *f, size_t i)
{
    return i < f->n ? &f->tensors[i] : NULL;
}

const st_tensor *st_file_find(const st_file *f, const char *name)
{
    st_tensor key = {.name = name};
    return bsearch(&key, f->tensors, f->n, sizeof key, cmp_tensor_name);
}

json_t *st_file_metadata(const st_file *f)
{
    return f->metadata;
}

/* ---- sets ------------------------------------------------------------------ */

static int cmp_tensor_ptr_name(const void *a, const void *b)
{
    return strcmp((*(const st_tensor *const *)a)->name, (*(const st_tensor *const *)b)->name);
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static st_set *set_new(const char *path, size_t nfiles, size_t ntensors, cb_err *err)
{
    st_set *s = calloc(1, sizeof *s);
    if (s) {
        s->path = strdup(path);
        s->files = calloc(nfiles + 1, sizeof *s->files);
        s->index = calloc(ntensors + 1, sizeof *s->index);
    }
    if (!s || !s->path || !s->files || !s->index) {
        st_set_close(s);
        cb_fail(err, "out of memory");
        return NULL;
    }
    return s;
}

static st_set *set_open_single(const char *path, cb_err *err)
{
    st_file *f = st_file_open(path, err);
    if (!f)
        return NULL;
    st_set *s = set_new(path, 1, f->n, err);
    if (!s) {
        st_file_close(f);
        return NULL;
    }
    s->files[s->nfiles++] = f;
    for (size_t i = 0; i < f->n; i++)
        s->index[s->n++] = &f->tensors[i];
    return s;
}

/* The shard called shard (relative to dir), opened once per set. */
static st_file *set_shard(st_set *s, const char *index_path, const char *dir,
                          const char *shard, cb_err *err)
{
    if (!*shard || strchr(shard, '/') || strcmp(shard, ".") == 0 || strcmp(shard, "..") == 0) {
        cb_fail(err, "%s: shard name '%s' is not a file name in the index's folder",
                index_path, shard);
        return NULL;
    }
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, shard) >= sizeof path) {
        cb_fail(err, "%s: shard path too long", index_path);
        return NULL;
    }
    for (size_t i = 0; i < s->nfiles; i++)
        if (strcmp(s->files[i]->path, path) == 0)
            return s->files[i];
    st_file *f = st_file_open(path, err);
    if (f)
        s->files[s->nfiles++] = f;
    return f;
}

/* Fills s from the index's weight_map (tensor name -> shard file name). */
static int set_fill_from_map(st_set *s, const char *index_path, const char *dir,
                             json_t *map, cb_err *err)
{
    const char *name;
    json_t *shard;
    json_object_foreach(map, name, shard) {
        if (!json_is_string(shard))
            return cb_fail(err, "%s: weight_map entry for tensor '%s' is not a string",
                           index_path, name);
        st_file *f = set_shard(s, index_path, dir, json_string_value(shard), err);
        if (!f)
            return -1;
        const st_tensor *t = st_file_find(f, name);
        if (!t)
            return cb_fail(err, "%s: tensor '%s' named in the index is absent from its "
                           "shard %s", index_path, name, f->path);
        s->index[s->n++] = t;
    }
    qsort(s->index, s->n, sizeof *s->index, cmp_tensor_ptr_name);
    return 0;
}

static st_set *set_open_index(const char *path, cb_err *err)
{
    st_set *s = NULL;
    json_error_t jerr;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    char *dir = strdup(path);
    if (!dir) {
        cb_fail(err, "out of memory");
        goto fail;
    }
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    else
        strcpy(dir, ".");
    if (!root) {
        cb_fail(err, "%s: bad JSON: %s (line %d)", path, jerr.text, jerr.line);
        goto fail;
    }
    json_t *map = json_object_get(root, "weight_map");
    if (!json_is_object(map)) {
        cb_fail(err, "%s: no \"weight_map\" object", path);
        goto fail;
    }
    /* At most one shard per tensor, so json_object_size bounds both. */
    if (!(s = set_new(path, json_object_size(map), json_object_size(map), err)) ||
        set_fill_from_map(s, path, dir, map, err) < 0)
        goto fail;
    json_decref(root);
    free(dir);
    return s;
fail:
    st_set_close(s);
    json_decref(root);
    free(dir);
    return NULL;
}

st_set *st_set_open(const char *path, cb_err *err)
{
    struct stat sb;
    if (stat(path, &sb) < 0) {
        cb_fail(err, "%s: %s", path, strerror(errno));
        return NULL;
    }
    if (!S_ISDIR(sb.st_mode))
        return ends_with(path, ".json") ? set_open_index(path, err)
                                        : set_open_single(path, err);
    char p[4096];
    if ((size_t)snprintf(p, sizeof p, "%s/model.safetensors.index.json", path) >= sizeof p) {
        cb_fail(err, "%s: path too long", path);
        return NULL;
    }
    if (access(p, F_OK) == 0)
        return set_open_index(p, err);
    snprintf(p, sizeof p, "%s/model.safetensors", path);
    return set_open_single(p, err);
}

void st_set_close(st_set *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nfiles; i++)
        st_file_close(s->files[i]);
    free(s->files);
    free(s->index);
    free(s->path);
    free(s);
}

size_t st_set_count(const st_set *s)
{
    return s->n;
}

const st_tensor *st_set_tensor(const st_set *s, size_t i)
{
    return i < s->n ? s->index[i] : NULL;
}

const st_tensor *st_find(const st_set *s, const char *name)
{
    st_tensor key = {.name = name};
    const st_tensor *kp = &key;
    const st_tensor **hit = bsearch(&kp, s->index, s->n, sizeof *s->index, cmp_tensor_ptr_name);
    return hit ? *hit : NULL;
}

/* Writes "[a,b,c]" into buf. */
static void format_shape(char *buf, size_t cap, int ndims, const int64_t *dims)
{
    size_t at = (size_t)snprintf(buf, cap, "[");
    for (int d = 0; d < ndims && at < cap; d++)
        at += (size_t)snprintf(buf + at, cap - at, "%s%lld", d ? "," : "", (long long)dims[d]);
    if (at < cap)
        snprintf(buf + at, cap - at, "]");
}

const st_tensor *st_expect(const st_set *s, const char *name, st_dtype dtype,
                           int ndims, const int64_t *dims, cb_err *err)
{
    const st_tensor *t = st_find(s, name);
    if (!t) {
        cb_fail(err, "%s: tensor '%s' is missing", s->path, name);
        return NULL;
    }
    if (dtype != ST_ANY && t->dtype != dtype) {
        cb_fail(err, "%s: tensor '%s': dtype %s, want %s", t->file, name,
                st_dtype_name(t->dtype), st_dtype_name(dtype));
        return NULL;
    }
    bool ok = t->ndims == ndims;
    for (int d = 0; ok && d < ndims; d++)
        ok = dims[d] < 0 || dims[d] == t->shape[d];
    if (!ok) {
        char got[256], want[256];
        format_shape(got, sizeof got, t->ndims, t->shape);
        format_shape(want, sizeof want, ndims, dims);
        cb_fail(err, "%s: tensor '%s': shape %s, want %s", t->file, name, got, want);
        return NULL;
    }
    return t;
}

/* ---- conversion ---------------------------------------------------------------- */

int st_to_f32(const st_tensor *t, float *out, size_t n, cb_err *err)
{
    if (n != t->nelems)
        return cb_fail(err, "%s: tensor '%s': %llu elements, caller gave room for %zu",
                       t->file, t->name, (unsigned long long)t->nelems, n);
    const uint8_t *p = t->data;
    switch (t->dtype) {
    case ST_F32:
        memcpy(out, p, n * sizeof *out);
        return 0;
    case ST_F16:
    case ST_BF16:
        for (size_t i = 0; i < n; i++) {
            uint16_t h = (uint16_t)(p[2 * i] | (p[2 * i + 1] << 8));
            out[i] = t->dtype == ST_F16 ? op_f16_to_f32(h) : op_bf16_to_f32(h);
        }
        return 0;
    default:
        return cb_fail(err, "%s: tensor '%s': dtype %s is not supported (F32, F16, BF16 only)",
                       t->file, t->name, st_dtype_name(t->dtype));
    }
}

/* ---- writing ----------------------------------------------------------------------- */

/* Builds the JSON header for tensors laid out back to back. */
static json_t *build_header(const st_tensor *ts, size_t n, const char *metadata_json,
                            cb_err *err)
{
    json_t *h = json_object();
    uint64_t off = 0;
    for (size_t i = 0; h && i < n; i++) {
        const st_tensor *t = &ts[i];
        uint64_t el = 1;
        for (int d = 0; d < t->ndims; d++)
            el *= (uint64_t)t->shape[d];
        if (t->ndims < 0 || t->ndims > ST_MAX_DIMS || st_dtype_size(t->dtype) == 0 ||
            el * st_dtype_size(t->dtype) != t->nbytes || json_object_get(h, t->name)) {
            cb_fail(err, "st_write: tensor '%s': bad dtype, shape, size or duplicate name",
                    t->name);
            goto fail;
        }
        json_t *shape = json_array();
        for (int d = 0; d < t->ndims; d++)
            json_array_append_new(shape, json_integer(t->shape[d]));
        json_object_set_new(h, t->name,
                            json_pack("{s:s, s:o, s:[I,I]}", "dtype", st_dtype_name(t->dtype),
                                      "shape", shape, "data_offsets", (json_int_t)off,
                                      (json_int_t)(off + t->nbytes)));
        off += t->nbytes;
    }
    if (h && metadata_json) {
        json_error_t jerr;
        json_t *m = json_loads(metadata_json, 0, &jerr);
        if (!json_is_object(m)) {
            json_decref(m);
            cb_fail(err, "st_write: metadata is not a JSON object");
            goto fail;
        }
        json_object_set_new(h, "__metadata__", m);
    }
    if (!h)
        cb_fail(err, "st_write: out of memory");
    return h;
fail:
    json_decref(h);
    return NULL;
}

int st_write(const char *path, const st_tensor *tensors, size_t n,
             const char *metadata_json, cb_err *err)
{
    int rc = -1;
    FILE *fp = NULL;
    char *text = NULL;
    json_t *h = build_header(tensors, n, metadata_json, err);
    if (!h || !(text = json_dumps(h, JSON_COMPACT))) {
        if (h)
            cb_fail(err, "st_write: out of memory");
        goto out;
    }
    size_t tlen = strlen(text), padded = (tlen + 7) & ~(size_t)7;
    uint8_t len8[8];
    for (int i = 0; i < 8; i++)
        len8[i] = (uint8_t)((uint64_t)padded >> (8 * i));
    if (!(fp = fopen(path, "wb"))) {
        cb_fail(err, "%s: %s", path, strerror(errno));
        goto out;
    }
    bool ok = fwrite(len8, 1, 8, fp) == 8 && fwrite(text, 1, tlen, fp) == tlen;
    for (size_t i = tlen; ok && i < padded; i++)
        ok = fputc(' ', fp) != EOF;
    for (size_t i = 0; ok && i < n; i++)
        ok = tensors[i].nbytes == 0 ||
             fwrite(tensors[i].data, 1, tensors[i].nbytes, fp) == tensors[i].nbytes;
    if (fclose(fp) != 0 || !ok) {
        fp = NULL;
        cb_fail(err, "%s: write failed", path);
        unlink(path);
        goto out;
    }
    fp = NULL;
    rc = 0;
out:
    free(text);
    json_decref(h);
    return rc;
}
