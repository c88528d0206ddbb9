/* models/tokenizer.h — text to token ids and back, from a vocabulary as GGUF
 * metadata describes it (tokenizer.ggml.*), and the chat templates of the
 * common instruct-model families.
 *
 * Two algorithms:
 *   - "gpt2": byte-level BPE.  The text is split by the pre-tokenizer the model
 *     declares (tokenizer.ggml.pre), each piece's bytes are mapped to the GPT-2
 *     printable alphabet, and merges are applied lowest rank first.
 *   - "llama": SentencePiece BPE.  Spaces become U+2581, a space is prefixed
 *     when add_space_prefix says so, pieces are merged highest score first, and
 *     text no token covers falls back to <0xNN> byte tokens (or unk).
 * Special tokens (control, user-defined, unknown types) found in the text are
 * emitted as single ids: user-defined always, the others when parse_special.
 *
 * This module takes the vocabulary as plain arrays and copies what it keeps:
 * it never reads files (the GGUF reader hands it the arrays) and never depends
 * on a regex or Unicode library (the few Unicode categories the pre-tokenizers
 * need are an embedded table).  A tokenizer is immutable once created: encode,
 * decode and the chat template may run from several threads at once.
 *
 * Invalid UTF-8 in the input is never an error: each invalid byte is its own
 * piece and becomes its byte's token, so decode(encode(x)) == x for any bytes
 * the vocabulary can express. */
#ifndef CTXBENCH_MODELS_TOKENIZER_H
#define CTXBENCH_MODELS_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

/* tokenizer.ggml.token_type values. */
enum {
    TOK_TYPE_UNDEFINED = 0,
    TOK_TYPE_NORMAL = 1,
    TOK_TYPE_UNKNOWN = 2,
    TOK_TYPE_CONTROL = 3,
    TOK_TYPE_USER_DEFINED = 4,
    TOK_TYPE_UNUSED = 5,
    TOK_TYPE_BYTE = 6
};

/* The vocabulary, as the tokenizer.* GGUF keys give it.  Everything is
 * borrowed for the duration of tok_create only.  Counts are given separately
 * so that arrays of the wrong length are caught and named. */
typedef struct tok_vocab_desc {
    const char *model;              /* tokenizer.ggml.model: "gpt2" or "llama" */
    const char *pre;                /* tokenizer.ggml.pre; NULL = "default" (gpt2 only) */
    const char *const *tokens;      /* (n_tokens) NUL-terminated UTF-8 strings */
    size_t n_tokens;
    const int32_t *token_types;     /* (n_token_types) TOK_TYPE_*; NULL = all normal */
    size_t n_token_types;
    const float *scores;            /* (n_scores); required for "llama", NULL for gpt2 */
    size_t n_scores;
    const char *const *merges;      /* (n_merges) "left right", rank = index; gpt2 */
    size_t n_merges;
    int64_t bos_id, eos_id, unk_id, pad_id; /* -1 when the key is absent */
    int add_bos;                    /* tokenizer.ggml.add_bos_token; -1 = model default */
    int add_eos;                    /* tokenizer.ggml.add_eos_token; -1 = no */
    int add_space_prefix;           /* tokenizer.ggml.add_space_prefix; -1 = model default */
    const char *chat_template;      /* tokenizer.chat_template; NULL if absent */
} tok_vocab_desc;

/* A vocab_desc with every id absent, every flag "default" and no arrays. */
tok_vocab_desc tok_vocab_desc_init(void);

typedef struct tokenizer tokenizer;

/* Checks the vocabulary and builds a tokenizer from a copy of it.  Returns 0
 * and sets *out (caller frees with tok_free), or -1 with err naming the key
 * and index at fault ("tokenizer.ggml.merges[17]: 'ab cd' names a token not in
 * the vocabulary ('cd')"); on error *out is NULL.  Refused: an unknown model
 * or pre-tokenizer, token/type/score arrays of different lengths, an unknown
 * token type, a gpt2 vocabulary without merges, a merge that is not two
 * vocabulary tokens whose concatenation is a token, a special id out of range,
 * add_bos without a bos id, a llama vocabulary without scores.  Duplicate token
 * strings are allowed; the lowest id wins when text is looked up. */
int tok_create(const tok_vocab_desc *d, tokenizer **out, cb_err *err);

/* Frees t; NULL is a no-op. */
void tok_free(tokenizer *t);

/* Encodes len bytes of text (need not be NUL-terminated, may be invalid
 * UTF-8).  add_special: prepend BOS / append EOS when the vocabulary asks for
 * them.  parse_special: recognise control tokens written in the text
 * ("<|im_start|>") as single ids; user-defined tokens are always recognised.
 * Writes up to cap ids and sets *n to the number of ids of the whole encoding.
 * Returns 0, or -1 if cap < *n (nothing useful in ids; call again with a
 * buffer of *n) or if a piece has no token and there is no unk (err says). */
int tok_encode(const tokenizer *t, const char *text, size_t len, int add_special,
               int parse_special, int32_t *ids, size_t cap, size_t *n, cb_err *err);

/* The pre-tokenizer alone, for tests and diagnostics: splits len bytes of
 * text (no special-token matching) as a "gpt2" vocabulary's pre-tokenizer
 * does, and writes the byte offset where each piece ends (ascending, the last
 * is len) to ends.  Sets *n to the number of pieces.  Returns 0, or -1 for a
 * "llama" vocabulary (it has no pre-tokenizer) or if cap < *n. */
int tok_split(const tokenizer *t, const char *text, size_t len, size_t *ends, size_t cap,
              size_t *n, cb_err *err);

/* Decodes n ids into out (cap bytes), NUL-terminated, and sets *len to the
 * byte length of the whole text (without the NUL).  Every token is rendered,
 * control tokens as their text (skip them with tok_token_type if unwanted);
 * for "llama" vocabularies the space prefixed by encoding is removed from the
 * start.  Returns 0, or -1 if an id is out of range or cap <= *len (call again
 * with *len + 1 bytes).  The output may be invalid UTF-8 where the ids split a
 * character. */
int tok_decode(const tokenizer *t, const int32_t *ids, size_t n, char *out, size_t cap,
               size_t *len, cb_err *err);

/* The bytes one token stands for in decoded text (no prefix-space removal:
 * for streaming output token by token), as tok_decode for one id. */
int tok_piece(const tokenizer *t, int32_t id, char *out, size_t cap, size_t *len,
              cb_err *err);

/* The vocabulary string of token id (as in tokenizer.ggml.tokens; borrowed,
 * valid until tok_free), or NULL if id is out of range. */
const char *tok_token_text(const tokenizer *t, int32_t id);
/* Its TOK_TYPE_*, or -1 if id is out of range. */
int tok_token_type(const tokenizer *t, int32_t id);
/* The id of the token whose text is exactly s, or -1. */
int32_t tok_find(const tokenizer *t, const char *s);

size_t tok_n_vocab(const tokenizer *t);
int32_t tok_bos(const tokenizer *t);   /* -1 if none */
int32_t tok_eos(const tokenizer *t);   /* -1 if none */
/* 1 when the vocabulary is "gpt2" (byte-level BPE), 0 for "llama". */
int tok_is_byte_level(const tokenizer *t);
/* The chat template string (borrowed) or NULL. */
const char *tok_chat_template(const tokenizer *t);

/* One chat message; role is "system", "user" or "assistant". */
typedef struct tok_chat_msg {
    const char *role;
    const char *content;
} tok_chat_msg;

/* Formats n messages with the vocabulary's chat template into out (cap bytes,
 * NUL-terminated) and sets *len to the whole text's length, ready for
 * tok_encode(..., parse_special=1).  Not a Jinja engine: the template is
 * recognised by its markers and rendered natively:
 *   ChatML ("<|im_start|>", SmolLM2, Qwen2): "<|im_start|>ROLE\nCONTENT<|im_end|>\n"
 *     per message, "<|im_start|>assistant\n" when add_generation_prompt, and the
 *     template's built-in system message (SmolLM2's "You are a helpful AI
 *     assistant named SmolLM, ...") first when messages[0] is not a system one;
 *   Llama 3 ("<|start_header_id|>"): "<|start_header_id|>ROLE<|end_header_id|>\n\n"
 *     CONTENT (trimmed) "<|eot_id|>", as llama.cpp renders it (no BOS text: BOS
 *     comes from tok_encode's add_special; the dated system preamble of 3.1+
 *     templates is not reproduced).
 * Returns 0, or -1 if there is no template, it is of an unknown family (err
 * says which markers are known), a message has a NULL field, or cap <= *len. */
int tok_apply_chat_template(const tokenizer *t, const tok_chat_msg *messages, size_t n,
                            int add_generation_prompt, char *out, size_t cap, size_t *len,
                            cb_err *err);

#endif
