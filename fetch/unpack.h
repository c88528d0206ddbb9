/* fetch/unpack.h — reading and unpacking untrusted archives (tar, tar.gz,
 * tar.zst, zip; read through libarchive) under safety rules.
 *
 * Every entry is checked before anything of it is written, and the whole
 * archive is refused, with an error naming the entry, when one entry has:
 *   - an absolute path, a ".." component, a backslash, or an empty name;
 *   - a type other than a regular file or a directory (symbolic and hard
 *     links, character and block devices, fifos, sockets);
 *   - more decompressed bytes than max_entry_bytes, or brings the archive over
 *     max_total_bytes: counted on the bytes actually decompressed, never on the
 *     header's claim (a header that claims more than the limit is refused
 *     early too);
 *   - a path already seen (after "./" and "//" are normalised away), or one
 *     more entry than max_entries;
 *   - encrypted data.
 * unpack_file() extracts into a staging folder beside dest and renames it to
 * dest only when every entry passed: on any failure dest does not exist and
 * the staging folder is removed, so a refused archive leaves nothing behind.
 *
 * Never: follow or create a link, write outside the staging folder, keep an
 * entry's permission bits (files are 0644, folders 0755), or run an external
 * decompression program (only the built-in gzip and zstd filters are enabled). */
#ifndef CTXBENCH_FETCH_UNPACK_H
#define CTXBENCH_FETCH_UNPACK_H

#include <stddef.h>
#include <stdint.h>

#include "util/error.h"
#include "util/hash.h"

typedef struct unpack_limits {
    int64_t max_entry_bytes; /* decompressed bytes of one entry */
    int64_t max_total_bytes; /* decompressed bytes of all entries */
    int max_entries;         /* entries of every type */
} unpack_limits;

/* Defaults for checkpoints in wheels and result archives: 16 GiB an entry,
 * 64 GiB in all, 100000 entries. */
extern const unpack_limits unpack_default_limits;

/* One regular file of an archive: its normalised relative path (no "./",
 * no trailing '/'), its decompressed size and sha256. */
typedef struct unpack_entry {
    char *path;
    int64_t size;
    char sha256[CB_SHA256_HEX_LEN];
} unpack_entry;

/* The regular files of an archive, in archive order.  Free with
 * unpack_list_free(); a zeroed list is empty. */
typedef struct unpack_list {
    unpack_entry *items;
    size_t n;
} unpack_list;

/* Frees the entries and zeroes the list (NULL is a no-op). */
void unpack_list_free(unpack_list *list);

/* Extracts the archive at archive_path into the new folder dest_dir (which
 * must not exist; its parent must).  lim NULL means unpack_default_limits.
 * Fills out (when not NULL, caller frees with unpack_list_free) with the
 * regular files extracted.  Returns 0, or -1 with err naming the archive and
 * the entry at fault; then dest_dir does not exist and nothing is left beside
 * it, and out is empty. */
int unpack_file(const char *archive_path, const char *dest_dir, const unpack_limits *lim,
                unpack_list *out, cb_err *err);

/* Reads the regular file called name (normalised, e.g. "manifest.json") out of
 * the archive without extracting anything, checking every entry up to it
 * under the safety rules (with lim, NULL for the defaults) and refusing the
 * member itself when larger than max_bytes.  Sets *data to a NUL-terminated
 * heap copy (caller frees) and *len to its size.  Returns 0, or -1 with err
 * (also when the archive has no such member); then *data is NULL. */
int unpack_read_member(const char *archive_path, const char *name, int64_t max_bytes,
                       const unpack_limits *lim, char **data, size_t *len, cb_err *err);

/* Called by the walkers for each regular file, with its normalised path, its
 * whole decompressed content (NUL-terminated, len bytes; valid during the
 * call only) and its sha256.  Returns 0 to go on, -1 with err to stop. */
typedef int unpack_visit_fn(void *ctx, const char *path, const char *data, size_t len,
                            const char sha256[CB_SHA256_HEX_LEN], cb_err *err);

/* Reads every entry of the archive at archive_path (or the in-memory archive
 * buf[0..n), named label in errors) under the safety rules, writing nothing,
 * and hands each regular file to visit (NULL to only check).  Each file is
 * held in memory during its call, so lim bounds the memory used.  Returns 0,
 * or -1 with err from the rules, libarchive or visit. */
int unpack_walk_file(const char *archive_path, const unpack_limits *lim, unpack_visit_fn *visit,
                     void *ctx, cb_err *err);
int unpack_walk_memory(const void *buf, size_t n, const char *label, const unpack_limits *lim,
                       unpack_visit_fn *visit, void *ctx, cb_err *err);

/* Normalises an archive member path into out (cap bytes): drops "." and empty
 * components and a trailing '/'.  Returns 0, or -1 with err saying why the
 * path is unsafe (absolute, "..", backslash, empty, too long). */
int unpack_path_normalise(const char *path, char *out, size_t cap, cb_err *err);

/* The lowercase hex sha256 of the file at path, read in pieces.  Returns 0,
 * or -1 with err naming the file. */
int unpack_sha256_file(const char *path, char out[CB_SHA256_HEX_LEN], cb_err *err);

#endif
