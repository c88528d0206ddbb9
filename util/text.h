/* util/text.h — small string and file helpers shared by every layer. */
#ifndef CTXBENCH_UTIL_TEXT_H
#define CTXBENCH_UTIL_TEXT_H

#include <stddef.h>

#include "util/error.h"

/* Maps the regular file at path read-only (MAP_PRIVATE): *map and *len (a
 * zero-length file maps nothing: *map NULL, *len 0).  Unmap with
 * munmap(*map, *len).  Returns 0, or -1 with err naming the file (missing,
 * not a regular file, mmap refused). */
int cb_map_file(const char *path, void **map, size_t *len, cb_err *err);

/* Reads the whole file at path into a NUL-terminated heap buffer (caller
 * frees).  Returns NULL and fills err, naming the file, on failure. */
char *cb_read_file(const char *path, size_t *len_out, cb_err *err);

/* Copies at most cap-1 bytes of src to dst and NUL-terminates it. */
void cb_strlcpy(char *dst, const char *src, size_t cap);

/* Strips leading and trailing white space in place; returns s. */
char *cb_trim(char *s);

/* Creates every missing directory on the way to the file path (like
 * `mkdir -p $(dirname path)`).  Returns 0, or -1 with err naming the folder. */
int cb_mkdirs_for(const char *path, cb_err *err);

#endif
