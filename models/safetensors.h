/* models/safetensors.h — reading (and, for tests, writing) Hugging Face
 * .safetensors checkpoints, single files or sharded sets.
 *
 * A file is mapped read-only with mmap; its JSON header is checked against the
 * file in full before any tensor is handed out (offsets inside the data area,
 * no overlaps, shape x dtype size == byte size, no duplicate names), so a
 * caller may trust every st_tensor it is given.  Errors name the file and the
 * tensor.  This module never writes into a mapped file, never trusts a size
 * from the file without checking it against the file's length, and never
 * converts data it cannot convert exactly (F32/F16/BF16 only).
 *
 * Data pointers are NOT necessarily aligned to their element size (the format
 * does not promise it): read them with memcpy or through st_to_f32. */
#ifndef CTXBENCH_MODELS_SAFETENSORS_H
#define CTXBENCH_MODELS_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "util/error.h"

/* Element types named in safetensors headers.  Only F32, F16 and BF16 can be
 * converted; the others are recognised (a file holding them opens) but
 * st_to_f32 refuses them. */
typedef enum st_dtype {
    ST_F32, ST_F16, ST_BF16,
    ST_F64, ST_I64, ST_I32, ST_I16, ST_I8, ST_U64, ST_U32, ST_U16, ST_U8, ST_BOOL,
    ST_F8_E4M3, ST_F8_E5M2,
    ST_DTYPE_COUNT,
    ST_ANY = -1 /* for st_expect: any dtype */
} st_dtype;

#define ST_MAX_DIMS 8
/* Cap on the JSON header: real headers are well under 10 MiB. */
#define ST_MAX_HEADER (100u << 20)

typedef struct st_tensor {
    const char *name;               /* owned by the file */
    const char *file;               /* path (or name) of the file holding it */
    st_dtype dtype;
    int ndims;                      /* 0 for a scalar */
    int64_t shape[ST_MAX_DIMS];     /* row-major, outermost first */
    uint64_t nelems;                /* product of shape (1 for a scalar) */
    const void *data;               /* inside the mapping; maybe unaligned */
    size_t nbytes;                  /* == nelems * st_dtype_size(dtype) */
} st_tensor;

typedef struct st_file st_file;
typedef struct st_set st_set;

/* Name as written in headers ("BF16"), or "?" for an out-of-range value. */
const char *st_dtype_name(st_dtype dt);
/* Bytes per element (1 for BOOL and F8), 0 for an out-of-range value. */
size_t st_dtype_size(st_dtype dt);

/* ---- one file ---------------------------------------------------------- */

/* Opens and fully checks the .safetensors file at path (mmap, read-only).
 * Returns the file (caller closes with st_file_close), or NULL with err
 * naming the file and, where one is at fault, the tensor. */
st_file *st_file_open(const char *path, cb_err *err);

/* The same on bytes already in memory, which are borrowed: buf must outlive
 * the returned file.  name stands for the file in errors and st_tensor.file. */
st_file *st_file_open_mem(const void *buf, size_t len, const char *name, cb_err *err);

/* Unmaps and frees; every st_tensor from the file becomes invalid.  NULL is a
 * no-op. */
void st_file_close(st_file *f);

/* Number of tensors, and the i-th in name order (NULL if i is out of range). */
size_t st_file_count(const st_file *f);
const st_tensor *st_file_tensor(const st_file *f, size_t i);
/* The tensor called name, or NULL. */
const st_tensor *st_file_find(const st_file *f, const char *name);
/* The header's "__metadata__" object (borrowed; an empty object if absent). */
json_t *st_file_metadata(const st_file *f);

/* ---- a set: one file, or the shards named by an index ------------------ */

/* Opens a checkpoint as one set of tensors.  path may be
 *   - a .safetensors file,
 *   - a model.safetensors.index.json ({"weight_map": {name: shard}}, shards
 *     relative to the index's folder), or
 *   - a folder holding model.safetensors.index.json or model.safetensors.
 * Each shard is opened once; every tensor the index names must be in its
 * shard.  Returns the set (caller closes with st_set_close), or NULL with err
 * naming the file and tensor at fault. */
st_set *st_set_open(const char *path, cb_err *err);

/* Closes every shard.  NULL is a no-op. */
void st_set_close(st_set *s);

/* Number of tensors and the i-th in name order (NULL if out of range). */
size_t st_set_count(const st_set *s);
const st_tensor *st_set_tensor(const st_set *s, size_t i);

/* The tensor called name in any shard, or NULL. */
const st_tensor *st_find(const st_set *s, const char *name);

/* The tensor called name, checked: its dtype must be dtype (unless ST_ANY),
 * and its shape must be dims[0..ndims) (a dim of -1 matches any size).
 * Returns the tensor, or NULL with err naming the file, the tensor and what
 * differs ("missing", "dtype F16, want F32", "shape [3,4], want [4,3]"). */
const st_tensor *st_expect(const st_set *s, const char *name, st_dtype dtype,
                           int ndims, const int64_t *dims, cb_err *err);

/* ---- data -------------------------------------------------------------- */

/* (Conversions of single f16 / bf16 values: op_f16_to_f32 and friends in
 * operators/lowp.h.) */

/* Converts the whole of t (F32, F16 or BF16) into out, which holds n floats;
 * n must equal t->nelems.  Returns 0, or -1 with err naming the file and
 * tensor (unsupported dtype, wrong n); out is then unspecified. */
int st_to_f32(const st_tensor *t, float *out, size_t n, cb_err *err);

/* ---- writing (tests, tiny checkpoints) ---------------------------------- */

/* Writes a valid .safetensors file at path holding tensors[0..n) in that
 * order: for each, name, dtype, ndims and shape are used, and nbytes bytes
 * are copied from data (nbytes must equal the shape's element count times
 * the dtype size).  metadata_json, if not NULL, is a JSON object of strings
 * stored as "__metadata__".  Returns 0, or -1 with err; on error no file is
 * left at path. */
int st_write(const char *path, const st_tensor *tensors, size_t n,
             const char *metadata_json, cb_err *err);

#endif
