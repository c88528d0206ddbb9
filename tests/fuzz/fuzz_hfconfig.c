/* tests/fuzz/fuzz_hfconfig.c — libFuzzer target for the config.json reader.
 *
 * Feeds the input bytes to hfc_parse_text; an accepted config must satisfy
 * the invariants hfconfig.h promises (sizes in range, heads dividing, derived
 * sizes filled), or the target aborts.  Built only by tests/fuzz/fuzz.mk;
 * never part of the library or of `make test`. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "models/hfconfig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const hfc_config *c)
{
    if (c->hidden_size < 1 || c->hidden_size > HFC_MAX_SIZE || c->num_hidden_layers < 1 ||
        c->num_hidden_layers > HFC_MAX_LAYERS || c->vocab_padded < c->vocab_size)
        abort();
    if (c->arch == HFC_LLAMA || c->arch == HFC_QWEN2) {
        if (c->num_attention_heads % c->num_key_value_heads || c->head_dim < 2)
            abort();
    } else if (c->d_inner < 1 || c->d_state < 1) {
        abort();
    }
    if (c->arch == HFC_MAMBA2 && (c->num_heads * c->headdim != c->d_inner ||
                                  c->num_heads % c->n_groups))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size ? size : 1); /* exact size: ASan catches over-reads */
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    hfc_config c;
    cb_err err;
    if (hfc_parse_text(buf, size, "fuzz/config.json", &c, &err) == 0)
        check(&c);
    else if (!err.msg[0])
        abort();
    free(buf);
    return 0;
}
