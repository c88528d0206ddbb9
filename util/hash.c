/* util/hash.c — SHA-256 through nettle and UUIDs through libuuid (see hash.h). */
#include "util/hash.h"

#include <nettle/sha2.h>
#include <uuid/uuid.h>

void cb_sha256_hex(const void *data, size_t n, char out[CB_SHA256_HEX_LEN])
{
    static const char hex[] = "0123456789abcdef";
    struct sha256_ctx ctx;
    unsigned char digest[SHA256_DIGEST_SIZE];
    sha256_init(&ctx);
    sha256_update(&ctx, n, data);
    sha256_digest(&ctx, sizeof digest, digest);
    for (size_t i = 0; i < sizeof digest; i++) {
        out[2 * i] = hex[digest[i] >> 4];
        out[2 * i + 1] = hex[digest[i] & 15];
    }
    out[64] = '\0';
}

void cb_uuid_new(char out[CB_UUID_LEN])
{
    uuid_t id;
    uuid_generate_random(id);
    uuid_unparse_lower(id, out);
}
