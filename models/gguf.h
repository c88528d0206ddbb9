/* models/gguf.h — reading (and, for tests and fixtures, writing) GGUF
 * checkpoints, versions 2 and 3, little-endian.
 *
 * A file is mapped read-only with mmap and checked in full before anything is
 * handed out: every count, length, offset and size is checked against the
 * file's length before it is used (metadata of every value type, arrays nested
 * up to GGUF_MAX_DEPTH, tensor infos, alignment, data ranges inside the file
 * and not overlapping, no duplicate keys or tensor names, known value and
 * tensor types), so a caller may trust every gguf_value and gguf_tensor it is
 * given.  Errors name the file and the key or tensor at fault.  This module
 * never writes into a mapping, never allocates in proportion to a count from
 * the file before checking that the file holds that many items, and never
 * dequantises (that is for the quantisation operators).
 *
 * Strings: keys and tensor names are copied, NUL-terminated, and owned by the
 * file (they may not contain NUL bytes).  String VALUES are views
 * (gguf_str: pointer + length) into the mapping, not NUL-terminated; copy
 * one with gguf_strdup.  Everything is valid until gguf_close.
 *
 * Tensor shapes use GGUF/ggml order: ne[0] is the fastest-varying
 * (contiguous) dimension, the reverse of a row-major Hugging Face shape.  A
 * weight matrix of n_out rows by n_in columns (HF shape [n_out, n_in]) has
 * ne[0] = n_in, ne[1] = n_out; quantisation blocks run along ne[0].  Unused
 * trailing dims are 1.  Tensor data pointers are aligned to the file's
 * alignment relative to the mapping (page-aligned) base, so to
 * general.alignment bytes in memory for files opened with gguf_open. */
#ifndef CTXBENCH_MODELS_GGUF_H
#define CTXBENCH_MODELS_GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

/* Limits against absurd inputs. */
#define GGUF_MAX_TENSORS (1u << 20)
#define GGUF_MAX_KV (1u << 20)
#define GGUF_MAX_DEPTH 4           /* a top-level array is depth 1 */
#define GGUF_MAX_NAME 65535u       /* bytes in a key or tensor name */
#define GGUF_MAX_DIMS 4
#define GGUF_DEFAULT_ALIGNMENT 32u

/* Metadata value types (ids as in the file). */
typedef enum gguf_vtype {
    GGUF_U8 = 0, GGUF_I8 = 1, GGUF_U16 = 2, GGUF_I16 = 3, GGUF_U32 = 4, GGUF_I32 = 5,
    GGUF_F32 = 6, GGUF_BOOL = 7, GGUF_STR = 8, GGUF_ARR = 9, GGUF_U64 = 10, GGUF_I64 = 11,
    GGUF_F64 = 12,
    GGUF_VTYPE_COUNT
} gguf_vtype;

/* ggml tensor type ids (the ones this reader knows; others are refused). */
enum {
    GGUF_T_F32 = 0, GGUF_T_F16 = 1, GGUF_T_Q4_0 = 2, GGUF_T_Q4_1 = 3, GGUF_T_Q5_0 = 6,
    GGUF_T_Q5_1 = 7, GGUF_T_Q8_0 = 8, GGUF_T_Q8_1 = 9, GGUF_T_Q2_K = 10, GGUF_T_Q3_K = 11,
    GGUF_T_Q4_K = 12, GGUF_T_Q5_K = 13, GGUF_T_Q6_K = 14, GGUF_T_Q8_K = 15, GGUF_T_I8 = 24,
    GGUF_T_I16 = 25, GGUF_T_I32 = 26, GGUF_T_I64 = 27, GGUF_T_F64 = 28, GGUF_T_BF16 = 30,
    GGUF_T_COUNT = 31 /* one past the largest id in the table */
};

/* A string value: a view, NOT NUL-terminated. */
typedef struct gguf_str {
    const char *ptr;
    size_t len;
} gguf_str;

/* A metadata value.  Scalars are widened: unsigned types into u64, signed
 * into i64, F32/F64 into f64 (F32 widening is exact).  An array keeps its
 * element type and count; its elements are reached through gguf_arr_* below:
 * numeric and bool elements stay packed little-endian in `raw` (in the
 * mapping), strings are views in `strs`, nested arrays are values in
 * `items`. */
typedef struct gguf_value gguf_value;
struct gguf_value {
    gguf_vtype type;
    union {
        uint64_t u64;          /* GGUF_U8, U16, U32, U64 */
        int64_t i64;           /* GGUF_I8, I16, I32, I64 */
        double f64;            /* GGUF_F32, F64 */
        bool b;                /* GGUF_BOOL */
        gguf_str str;          /* GGUF_STR */
        struct {
            gguf_vtype type;          /* element type */
            uint64_t n;               /* element count */
            const void *raw;          /* numeric/bool: n * gguf_vtype_size(type) bytes */
            const gguf_str *strs;     /* GGUF_STR elements, n of them */
            const gguf_value *items;  /* GGUF_ARR elements, n of them */
        } arr;                 /* GGUF_ARR */
    };
};

/* One metadata entry, in file order. */
typedef struct gguf_kv {
    const char *key;   /* owned by the file */
    gguf_value val;
} gguf_kv;

/* One tensor info (see the shape convention above). */
typedef struct gguf_tensor {
    const char *name;           /* owned by the file */
    uint32_t n_dims;            /* 1..GGUF_MAX_DIMS */
    int64_t ne[GGUF_MAX_DIMS];  /* ne[0] fastest-varying; unused dims are 1 */
    uint32_t type;              /* ggml type id (GGUF_T_*) */
    uint64_t offset;            /* from the start of the data section */
    uint64_t nelems;            /* product of ne */
    uint64_t nbytes;            /* nelems / block elements * block bytes */
    const void *data;           /* reader: inside the mapping; writer: the bytes to write */
} gguf_tensor;

typedef struct gguf_file gguf_file;

/* ---- type tables ---------------------------------------------------------- */

/* ggml type name ("Q4_1"), or "?" for an unknown id. */
const char *gguf_type_name(uint32_t type);
/* Elements per block (1 for plain types, 32, 256), 0 for an unknown id. */
uint32_t gguf_type_block(uint32_t type);
/* Bytes per block, 0 for an unknown id. */
uint32_t gguf_type_size(uint32_t type);
/* Value type name ("uint32", "array"), or "?" for an unknown id. */
const char *gguf_vtype_name(gguf_vtype t);
/* Bytes of one packed scalar of type t; 0 for STR, ARR and unknown ids. */
size_t gguf_vtype_size(gguf_vtype t);

/* ---- opening ------------------------------------------------------------------ */

/* Opens and fully checks the GGUF file at path (mmap, read-only).  Returns the
 * file (caller closes with gguf_close), or NULL with err naming the file and,
 * where one is at fault, the key or tensor. */
gguf_file *gguf_open(const char *path, cb_err *err);

/* The same on bytes already in memory, which are borrowed: buf must outlive
 * the returned file.  name stands for the file in errors. */
gguf_file *gguf_open_mem(const void *buf, size_t len, const char *name, cb_err *err);

/* Unmaps and frees; every pointer obtained from the file becomes invalid.
 * NULL is a no-op. */
void gguf_close(gguf_file *f);

/* Header facts: version (2 or 3), alignment of the data section, byte offset
 * of the data section in the file, the file's path (as given) and length. */
uint32_t gguf_version(const gguf_file *f);
uint32_t gguf_alignment(const gguf_file *f);
uint64_t gguf_data_offset(const gguf_file *f);
const char *gguf_path(const gguf_file *f);
size_t gguf_size(const gguf_file *f);

/* ---- metadata ------------------------------------------------------------------- */

/* Number of entries, and the i-th in file order (NULL if out of range). */
size_t gguf_kv_count(const gguf_file *f);
const gguf_kv *gguf_kv_at(const gguf_file *f, size_t i);

/* The value stored under key, or NULL if there is none. */
const gguf_value *gguf_find_key(const gguf_file *f, const char *key);

/* Typed getters.  Each returns 0 and sets *out, or -1 with err naming the file
 * and key: missing key, or a type that cannot give the value ("key
 * 'llama.block_count' is string, want an integer").  Integer getters accept
 * any integer type (u8..i64) whose value fits in the result; get_f32/get_f64
 * accept F32 or F64 (get_f32 rounds an F64 to the nearest float); get_bool
 * takes BOOL only, get_str STR only (a view, see above), get_arr ARR only. */
int gguf_get_u32(const gguf_file *f, const char *key, uint32_t *out, cb_err *err);
int gguf_get_u64(const gguf_file *f, const char *key, uint64_t *out, cb_err *err);
int gguf_get_i64(const gguf_file *f, const char *key, int64_t *out, cb_err *err);
int gguf_get_f32(const gguf_file *f, const char *key, float *out, cb_err *err);
int gguf_get_f64(const gguf_file *f, const char *key, double *out, cb_err *err);
int gguf_get_bool(const gguf_file *f, const char *key, bool *out, cb_err *err);
int gguf_get_str(const gguf_file *f, const char *key, gguf_str *out, cb_err *err);
int gguf_get_arr(const gguf_file *f, const char *key, const gguf_value **out, cb_err *err);

/* Value-level conversions with the same coercion rules; false (and *out
 * untouched) when v cannot give the value. */
bool gguf_val_u64(const gguf_value *v, uint64_t *out);
bool gguf_val_i64(const gguf_value *v, int64_t *out);
bool gguf_val_f64(const gguf_value *v, double *out);

/* Element i of array a as a scalar value (any element type except ARR);
 * false if a is not an array, i is out of range or the elements are arrays. */
bool gguf_arr_scalar(const gguf_value *a, uint64_t i, gguf_value *out);
/* Element i of a as a string (STR elements only) / an integer (any integer
 * element type, value fitting in int64) / a float (F32 or F64 elements);
 * false otherwise. */
bool gguf_arr_str(const gguf_value *a, uint64_t i, gguf_str *out);
bool gguf_arr_i64(const gguf_value *a, uint64_t i, int64_t *out);
bool gguf_arr_f32(const gguf_value *a, uint64_t i, float *out);
/* Element i of an array of arrays, or NULL. */
const gguf_value *gguf_arr_item(const gguf_value *a, uint64_t i);

/* true when s holds exactly the bytes of the C string c. */
bool gguf_str_eq(gguf_str s, const char *c);
/* A malloc'd NUL-terminated copy of s (caller frees), or NULL when out of
 * memory.  Embedded NUL bytes are copied as they are. */
char *gguf_strdup(gguf_str s);

/* ---- tensors --------------------------------------------------------------------- */

/* Number of tensors, and the i-th in file order (NULL if out of range). */
size_t gguf_tensor_count(const gguf_file *f);
const gguf_tensor *gguf_tensor_at(const gguf_file *f, size_t i);
/* The tensor called name, or NULL. */
const gguf_tensor *gguf_find_tensor(const gguf_file *f, const char *name);
/* t's bytes inside the mapping (t->nbytes of them; t must come from f). */
const void *gguf_tensor_data(const gguf_file *f, const gguf_tensor *t);

/* ---- writing (tests, fixtures) ------------------------------------------------------ */

/* Writes a valid GGUF file (version 2 or 3, little-endian) at path holding
 * kvs[0..n_kv) in that order and tensors[0..n_tensors) in that order.  For a
 * kv, every field of the value tree is used (an F32 value is written as the
 * float nearest to f64; array elements from raw / strs / items by element
 * type).  For a tensor, name, n_dims, ne, type and data are used: nbytes must
 * equal the size the shape and type give; offsets are assigned here, each
 * tensor padded to the alignment, which is general.alignment when kvs hold it
 * (as an integer) and 32 otherwise; the file ends with that padding.  The
 * writer does not enforce the reader's limits (nesting depth, name length),
 * so tests can make files the reader must refuse.  Returns 0, or -1 with err
 * (bad version, value type, tensor type, shape or nbytes, or a write
 * failure); on error no file is left at path. */
int gguf_write(const char *path, uint32_t version, const gguf_kv *kvs, size_t n_kv,
               const gguf_tensor *tensors, size_t n_tensors, cb_err *err);

#endif
