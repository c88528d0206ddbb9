/* pipeline/generate.c — `ctxbench generate`: text in, text out with a real
 * GGUF checkpoint (a file, or a fetched model of models/manifest.json).  The
 * prompt is tokenized with the checkpoint's own tokenizer (its chat template
 * applied with --chat), prefilled, and decoded greedily or by seeded
 * sampling until the end-of-sequence token or --max-tokens; the text is
 * streamed to stdout and the measured timing goes to stderr.
 * Prints; never writes the results database (experiments measure). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fetch/fetch_model.h"
#include "fetch/manifest.h"
#include "models/gguf_model.h"
#include "models/gguf_tokenizer.h"
#include "models/lm.h"
#include "models/sample.h"
#include "pipeline/cli.h"
#include "pipeline/stage.h"
#include "util/clock.h"
#include "util/text.h"

static const char generate_usage[] =
    "usage: ctxbench generate --model FILE.gguf|NAME (--prompt TEXT | --prompt-file FILE)\n"
    "                         [--chat] [--max-tokens N] [--threads N] [--wtype W]\n"
    "                         [--temperature T] [--top-k K] [--top-p P] [--seed S]\n"
    "\n"
    "Runs a GGUF checkpoint on a prompt and prints the continuation, then (on stderr)\n"
    "the measured prefill and decode rates.  NAME is a model of models/manifest.json\n"
    "fetched into the cache (make fetch MODELS=NAME).  --chat applies the model's chat\n"
    "template (a user message, then the assistant's turn).  Greedy unless --temperature\n"
    "> 0 (then seeded: the same --seed gives the same text).  --wtype native\n"
    "(default) keeps the matrices as the file stores them (Q4_1 layers stream their\n"
    "4-bit bytes through the int8 x int4 GEMV); f32, bf16, f16, q8_0, q4_0 or q4_1\n"
    "converts every matrix to that type.\n";

typedef struct gen_opts {
    const char *model, *prompt, *prompt_file, *wtype;
    int chat, max_tokens, threads;
    sample_params sp;
    unsigned long long seed;
} gen_opts;

static int gen_parse(int argc, char **argv, gen_opts *o)
{
    static const struct option longopts[] = {
        {"model", required_argument, NULL, 'm'},      {"prompt", required_argument, NULL, 'p'},
        {"prompt-file", required_argument, NULL, 'f'}, {"chat", no_argument, NULL, 'c'},
        {"max-tokens", required_argument, NULL, 'n'}, {"threads", required_argument, NULL, 't'},
        {"wtype", required_argument, NULL, 'w'},      {"temperature", required_argument, NULL, 'T'},
        {"top-k", required_argument, NULL, 'k'},      {"top-p", required_argument, NULL, 'P'},
        {"seed", required_argument, NULL, 's'},       {NULL, 0, NULL, 0},
    };
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'm': o->model = optarg; break;
        case 'p': o->prompt = optarg; break;
        case 'f': o->prompt_file = optarg; break;
        case 'c': o->chat = 1; break;
        case 'n': o->max_tokens = atoi(optarg); break;
        case 't': o->threads = atoi(optarg); break;
        case 'w': o->wtype = optarg; break;
        case 'T': o->sp.temperature = strtof(optarg, NULL); break;
        case 'k': o->sp.top_k = atoi(optarg); break;
        case 'P': o->sp.top_p = strtof(optarg, NULL); break;
        case 's': o->seed = strtoull(optarg, NULL, 10); break;
        default:
            return cli_error("generate: unknown or incomplete option '%s' (ctxbench generate "
                             "--help)", argv[optind - 1]);
        }
    }
    if (!o->model || (!o->prompt == !o->prompt_file))
        return cli_error("generate: --model and one of --prompt or --prompt-file are required");
    if (o->max_tokens < 1 || o->max_tokens > 1 << 20 || o->threads < 1)
        return cli_error("generate: --max-tokens and --threads must be positive");
    if (strcmp(o->wtype, "native") != 0 && op_wtype_parse(o->wtype) < 0)
        return cli_error("generate: --wtype %s is not native, f32, bf16, f16, q8_0, q4_0 or "
                         "q4_1", o->wtype);
    return 0;
}

/* The checkpoint's path: model itself when it is a file, else the cached
 * GGUF of the manifest model it names. */
static int gen_model_path(const char *model, char *out, size_t cap, cb_err *err)
{
    if (access(model, R_OK) == 0) {
        cb_strlcpy(out, model, cap);
        return 0;
    }
    mf_model mod;
    char cache[4096];
    if (fm_find_cached("models/manifest.json", model, &mod, cache, sizeof cache, err) != 0)
        return cb_wrap(err, "%s: neither a readable file nor a cached model", model);
    if (strcmp(mod.format, "gguf") != 0)
        return cb_fail(err, "%s: a %s checkpoint; generate reads GGUF files (with their tokenizer)",
                       model, mod.format);
    return fm_file_path(cache, &mod, &mod.files[0], out, cap, err);
}

/* The prompt's token ids (*ids malloc'd), the chat template applied with --chat. */
static int gen_tokens(const tokenizer *tok, const char *text, int chat, int32_t **ids, size_t *n,
                      cb_err *err)
{
    size_t len = strlen(text), cap = 4 * len + 4096, tlen = 0, need = 0;
    char *formatted = NULL;
    if (chat) {
        tok_chat_msg msg = {"user", text};
        formatted = malloc(cap);
        if (!formatted)
            return cb_fail(err, "out of memory");
        if (tok_apply_chat_template(tok, &msg, 1, 1, formatted, cap, &tlen, err) != 0) {
            free(formatted);
            return -1;
        }
        text = formatted;
        len = tlen;
    }
    *ids = malloc((len + 16) * sizeof **ids);
    int rc = *ids ? tok_encode(tok, text, len, 1, chat, *ids, len + 16, &need, err)
                  : cb_fail(err, "out of memory");
    *n = need;
    free(formatted);
    return rc;
}

/* Prefill, then decode up to max_tokens, streaming pieces to stdout. */
static int gen_run(lm *model, const tokenizer *tok, pool *p, const pool_part *part,
                   const int32_t *ids, size_t n, const gen_opts *o, cb_err *err)
{
    int vocab = lm_config(model)->vocab, produced = 0;
    float *logits = malloc((size_t)vocab * sizeof *logits);
    void *scratch = malloc(sample_scratch_bytes(vocab));
    int *toks = malloc(n * sizeof *toks), rc = -1;
    sample_rng rng = sample_rng_seed(o->seed);
    if (!logits || !scratch || !toks) {
        cb_fail(err, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        toks[i] = ids[i];
    int64_t t0 = cb_now_ns();
    if (lm_prefill(model, p, part, toks, (int)n, logits, NULL, err) != 0)
        goto done;
    int64_t t1 = cb_now_ns();
    for (; produced < o->max_tokens; produced++) {
        int next = sample_next(logits, vocab, &o->sp, &rng, scratch);
        if (next == tok_eos(tok))
            break;
        char piece[256];
        size_t plen;
        if (tok_piece(tok, next, piece, sizeof piece, &plen, err) == 0)
            fwrite(piece, 1, plen, stdout);
        fflush(stdout);
        if (produced + 1 < o->max_tokens && lm_decode(model, p, part, next, logits, err) != 0)
            goto done;
    }
    int64_t t2 = cb_now_ns();
    double pre = (double)(t1 - t0) * 1e-9, dec = (double)(t2 - t1) * 1e-9;
    printf("\n");
    fflush(stdout);
    fprintf(stderr,
            "generate: prompt %zu tokens, prefill %.3f s (%.1f tok/s, measured); %d tokens "
            "generated in %.3f s (%.1f tok/s, measured), %d thread%s, weights %s "
            "(embedding %s)\n",
            n, pre, (double)n / pre, produced, dec, produced > 0 ? produced / dec : 0.0,
            part->n, part->n == 1 ? "" : "s", op_wtype_name(lm_config(model)->wtype),
            op_wtype_name(lm_config(model)->emb_wtype));
    rc = 0;
done:
    free(logits), free(scratch), free(toks);
    return rc;
}

int cmd_generate(int argc, char **argv)
{
    if (cli_wants_help(argc, argv, generate_usage))
        return 0;
    gen_opts o = {.max_tokens = 64, .threads = 1, .wtype = "native"};
    if (gen_parse(argc, argv, &o) != 0)
        return 1;
    cb_err err = {{0}};
    char path[4096], *file_text = NULL;
    const char *text = o.prompt;
    if (o.prompt_file && !(text = file_text = cb_read_file(o.prompt_file, NULL, &err)))
        return cli_fail(&err);
    gguf_file *f = NULL;
    tokenizer *tok = NULL;
    lm *model = NULL;
    lm_weights w = {0};
    model_config cfg;
    stage_machine m = {0};
    pool_part part;
    int32_t *ids = NULL;
    size_t n = 0;
    int rc = 1;
    if (gen_model_path(o.model, path, sizeof path, &err) != 0 || !(f = gguf_open(path, &err)) ||
        gguf_tokenizer(f, &tok, &err) != 0 || gen_tokens(tok, text, o.chat, &ids, &n, &err) != 0)
        goto done;
    if (n < 1) {
        cb_fail(&err, "the prompt gives no tokens");
        goto done;
    }
    int ctx = (int)n + o.max_tokens;
    op_wtype wt, emb_wt;
    if (gguf_model_storage_named(f, o.wtype, &wt, &emb_wt, &err) != 0 ||
        gguf_model_load_from(f, wt, emb_wt, ctx, &cfg, &w, &err) != 0 ||
        lm_create(&cfg, &w, (int)n, &model, &err) != 0 ||
        stage_machine_open(&m, NULL, 1, &err) != 0 ||
        pool_part_first(m.pool, o.threads, &part, &err) != 0 ||
        gen_run(model, tok, m.pool, &part, ids, n, &o, &err) != 0)
        goto done;
    rc = 0;
done:
    if (rc != 0)
        cli_fail(&err);
    lm_weights_free(&w);
    lm_free(model);
    if (m.topo)
        stage_machine_close(&m);
    tok_free(tok);
    gguf_close(f);
    free(ids);
    free(file_text);
    return rc;
}
