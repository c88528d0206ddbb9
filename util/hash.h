/* util/hash.h — content hashes (SHA-256, from nettle) and random identifiers
 * (UUID v4, from libuuid).  Used for configuration hashes, parameter hashes,
 * platform fingerprints and run identities. */
#ifndef CTXBENCH_UTIL_HASH_H
#define CTXBENCH_UTIL_HASH_H

#include <stddef.h>

#define CB_SHA256_HEX_LEN 65 /* 64 hex digits and the terminating NUL */
#define CB_UUID_LEN 37       /* 36 characters and the terminating NUL */

/* Writes the lowercase hex SHA-256 of data[0..n) to out.  Cannot fail. */
void cb_sha256_hex(const void *data, size_t n, char out[CB_SHA256_HEX_LEN]);

/* Writes a fresh random UUID (version 4, lowercase) to out.  Cannot fail. */
void cb_uuid_new(char out[CB_UUID_LEN]);

#endif
