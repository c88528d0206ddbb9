/* models/gguf_tokenizer.h — the tokenizer a GGUF file carries in its
 * tokenizer.ggml.* and tokenizer.chat_template metadata, built with
 * models/tokenizer.h.
 *
 * Never: keep references into the GGUF mapping (tok_create copies
 * everything), print, or exit. */
#ifndef CTXBENCH_MODELS_GGUF_TOKENIZER_H
#define CTXBENCH_MODELS_GGUF_TOKENIZER_H

#include "models/gguf.h"
#include "models/tokenizer.h"
#include "util/error.h"

/* Builds the tokenizer of f.  Required keys: tokenizer.ggml.model and
 * tokenizer.ggml.tokens; the others (pre, token_type, scores, merges, the
 * special ids, add_bos/eos/space_prefix flags, chat_template) are read when
 * present.  Returns 0 and *out (free with tok_free), or -1 with err naming
 * the file and the key (a missing or mistyped key, an element of the wrong
 * type) or tok_create's complaint. */
int gguf_tokenizer(const gguf_file *f, tokenizer **out, cb_err *err);

#endif
