#!/usr/bin/env python3
"""tests/reference/tokenize_reference.py — the independent check of models/tokenizer.c.

Reads the tokenizer of a real GGUF checkpoint (SmolLM2-135M-Instruct) with the
`gguf` package and tokenizes a fixed set of prompts with Hugging Face
`tokenizers` (the Rust BPE implementation, not ours), renders the checkpoint's
chat template with `jinja2` (a real Jinja engine, with the settings
transformers uses), and writes two fixtures the C test reads:

  tests/fixtures/tokenizer/smollm2_vocab.json   tokens, token types, merges and
                                                the other tokenizer.* keys, so the
                                                C test needs no 98 MB checkpoint
  tests/fixtures/tokenizer/smollm2_golden.json  per prompt: the token ids with and
                                                without special-token parsing, and
                                                its pre-tokenized pieces under the
                                                gpt2, smollm, llama-bpe, qwen2 and
                                                default pre-tokenizers; the
                                                chat template applied to two
                                                conversations, and its token ids

Why not transformers' AutoTokenizer.from_pretrained(..., gguf_file=...): in
transformers 5.x its GGUF reader imports torch (a multi-GB install) even for
the tokenizer.  We build the same kind of tokenizer transformers would, from
the same metadata, with the library transformers delegates to: a byte-level
BPE model from tokenizer.ggml.tokens/merges, the pre-tokenizer that the
checkpoint's original tokenizer.json declares for its tokenizer.ggml.pre
("smollm": individual digits, then GPT-2 byte-level splitting — the same pair
llama.cpp uses for that name), and every control/user-defined token as an
added token.

The script must never write anything but the two fixtures (and its virtualenv),
and never download anything but the pinned packages below.

Usage (from the repository root):
  python3 tests/reference/tokenize_reference.py PATH/TO/SmolLM2-135M-Instruct.Q4_1.gguf
      [--out-dir tests/fixtures/tokenizer] [--venv build/reference-venv]

It creates the virtualenv on first use and re-runs itself inside it:
  python3 -m venv build/reference-venv
  build/reference-venv/bin/pip install gguf==0.19.0 tokenizers==0.23.3 Jinja2==3.1.6 numpy==2.4.6

  python3 tests/reference/tokenize_reference.py --unicode-table
prints the C table of Unicode letter/number/punctuation ranges that
models/tokenizer.c embeds (stdlib only, from Python's unicodedata).
"""
import argparse
import json
import os
import subprocess
import sys

PINNED = ["gguf==0.19.0", "tokenizers==0.23.3", "Jinja2==3.1.6", "numpy==2.4.6"]

PROMPTS = [
    "Hello world",
    "Hello, world! How are you today?",
    "The quick brown fox jumps over the lazy dog.",
    "1234567890 3.14159 -42 1,000,000 2024-06-01 31415926535897932384626433832795",
    "I'm sure they'll say it's what we've done, isn't it? I'd've. DON'T SHOUT'S",
    "   leading spaces",
    "trailing spaces   ",
    "multiple    spaces   between  words",
    "line one\nline two\n\n\tindented with a tab\r\nwindows line\n",
    "Café, naïve façade, résumé, Ångström, Straße, Øresund",
    "中文分词测试：你好，世界！こんにちは世界 안녕하세요",
    "emoji 😀👍🏽 🇫🇷 family 👨‍👩‍👧 done",
    "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n",
    "",
    "def f(x):\n    return x**2  # square\n",
    "Wait... what?!? (really) [yes] {no} <tag> \"quoted\" 'single' @#$%^&*~`|\\",
    "text<|im_end|>more<|endoftext|><|endoftext|>",
    "Καλημέρα κόσμε — Привет, мир",
    "https://example.com/path?q=1&r=2 user@example.org",
    "  \n \t  ",
    "مرحبا بالعالم नमस्ते",
    "non\u00a0breaking\u2003em space\u3000ideographic",
    "x²+y³ ½ Ⅻ ٣٤ ①",
]

CONVERSATIONS = [
    {"messages": [{"role": "user", "content": "What is the capital of France?"},
                  {"role": "assistant", "content": "The capital of France is Paris."}],
     "add_generation_prompt": False},
    {"messages": [{"role": "system", "content": "You are a terse assistant."},
                  {"role": "user", "content": "Hi!"}],
     "add_generation_prompt": True},
]


def unicode_table():
    """Prints the sorted, merged ranges of categories L, N and P as C rows."""
    import unicodedata
    rows, cur = [], None
    for cp in range(0x110000):
        cat = unicodedata.category(chr(cp))[0]
        c = {"L": "UC_L", "N": "UC_N", "P": "UC_P"}.get(cat)
        if cur and c == cur[2] and cp == cur[1] + 1:
            cur[1] = cp
            continue
        if cur:
            rows.append(cur)
        cur = [cp, cp, c] if c else None
    if cur:
        rows.append(cur)
    print(f"/* Unicode {unicodedata.unidata_version}: {len(rows)} ranges */")
    line = ""
    for lo, hi, c in rows:
        item = f"{{0x{lo:X},0x{hi:X},{c}}},"
        if len(line) + len(item) > 96:
            print(line)
            line = ""
        line += item
    print(line)


def ensure_venv(venv):
    """Re-executes this script inside venv (created and filled on first use)."""
    if os.path.realpath(sys.prefix) == os.path.realpath(venv):
        return
    py = os.path.join(venv, "bin", "python")
    if not os.path.exists(py):
        subprocess.check_call([sys.executable, "-m", "venv", venv])
    subprocess.check_call([py, "-m", "pip", "install", "-q"] + PINNED)
    os.execv(py, [py] + sys.argv)


def read_gguf(path):
    from gguf import GGUFReader
    r = GGUFReader(path)

    def get(key, default=None):
        f = r.fields.get(key)
        return f.contents() if f is not None else default

    meta = {
        "model": get("tokenizer.ggml.model"),
        "pre": get("tokenizer.ggml.pre"),
        "bos_token_id": get("tokenizer.ggml.bos_token_id", -1),
        "eos_token_id": get("tokenizer.ggml.eos_token_id", -1),
        "unknown_token_id": get("tokenizer.ggml.unknown_token_id", -1),
        "padding_token_id": get("tokenizer.ggml.padding_token_id", -1),
        "add_bos_token": get("tokenizer.ggml.add_bos_token"),
        "add_space_prefix": get("tokenizer.ggml.add_space_prefix"),
        "chat_template": get("tokenizer.chat_template"),
        "tokens": get("tokenizer.ggml.tokens"),
        "token_type": [int(x) for x in get("tokenizer.ggml.token_type")],
        "merges": get("tokenizer.ggml.merges"),
    }
    if meta["model"] != "gpt2" or meta["pre"] != "smollm":
        sys.exit(f"tokenize_reference: {path}: expected a gpt2/smollm tokenizer, "
                 f"found {meta['model']}/{meta['pre']}")
    return meta


def build_tokenizer(meta):
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers
    tokens = meta["tokens"]
    vocab = {t: i for i, t in enumerate(tokens)}
    if len(vocab) != len(tokens):
        sys.exit("tokenize_reference: duplicate tokens in the vocabulary")
    merges = [tuple(m.split(" ", 1)) for m in meta["merges"]]
    tk = Tokenizer(models.BPE(vocab=vocab, merges=merges, fuse_unk=False, byte_fallback=False))
    tk.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    ])
    tk.decoder = decoders.ByteLevel()
    def added(kind):
        return [AddedToken(tokens[i], special=(kind == 3), normalized=False)
                for i, ty in enumerate(meta["token_type"]) if ty == kind]
    tk.add_special_tokens(added(3))    # control: parsed only when asked
    tk.add_tokens(added(4))            # user-defined: always parsed
    return tk


GPT2_RE = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
LLAMA3_RE = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
             r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")


def splitters():
    """Pre-tokenizers of several tokenizer.ggml.pre names, as Hugging Face
    regex splits (the regexes llama.cpp lists for each name)."""
    from tokenizers import Regex, pre_tokenizers as pt

    def split(rx):
        return pt.Split(Regex(rx), behavior="isolated", invert=False)
    return {
        "gpt2": split(GPT2_RE),
        "smollm": pt.Sequence([pt.Digits(individual_digits=True), split(GPT2_RE)]),
        "llama-bpe": split(LLAMA3_RE),
        "qwen2": split(LLAMA3_RE.replace(r"\p{N}{1,3}", r"\p{N}")),
        "default": pt.Sequence([split(r"[\p{P}\$\+<=>\^~\|]+"), split(GPT2_RE),
                                split(r"\p{N}+"), split(r"[0-9][0-9][0-9]")]),
    }


def encode(tk, text, parse_special):
    tk.encode_special_tokens = not parse_special
    ids = tk.encode(text, add_special_tokens=False).ids
    tk.encode_special_tokens = False
    return ids


def render_chat(template, conv, meta):
    from jinja2.sandbox import ImmutableSandboxedEnvironment
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    toks = meta["tokens"]
    return env.from_string(template).render(
        messages=conv["messages"], add_generation_prompt=conv["add_generation_prompt"],
        bos_token=toks[meta["bos_token_id"]], eos_token=toks[meta["eos_token_id"]])


def dump_lines(obj):
    """JSON with one top-level key per line, and one list item per line for
    lists of objects (readable diffs when the fixtures are regenerated)."""
    out = []
    for k, v in obj.items():
        if isinstance(v, list) and v and isinstance(v[0], dict):
            items = ",\n  ".join(json.dumps(x, ensure_ascii=False) for x in v)
            out.append(f"{json.dumps(k)}: [\n  {items}\n ]")
        else:
            out.append(f"{json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}")
    return "{\n " + ",\n ".join(out) + "\n}\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("gguf", nargs="?")
    ap.add_argument("--out-dir", default="tests/fixtures/tokenizer")
    ap.add_argument("--venv", default="build/reference-venv")
    ap.add_argument("--unicode-table", action="store_true")
    a = ap.parse_args()
    if a.unicode_table:
        unicode_table()
        return
    if not a.gguf:
        ap.error("the path of the GGUF checkpoint is required")
    ensure_venv(a.venv)
    import tokenizers
    meta = read_gguf(a.gguf)
    tk = build_tokenizer(meta)

    golden = {"source": os.path.basename(a.gguf),
              "generator": "tests/reference/tokenize_reference.py",
              "tokenizers_version": tokenizers.__version__,
              "pre_tokenizer": "Digits(individual_digits) + ByteLevel(add_prefix_space=false)",
              "prompts": [], "chat": []}
    for p in PROMPTS:
        special = encode(tk, p, True)
        plain = encode(tk, p, False)
        if tk.decode(special, skip_special_tokens=False) != p:
            sys.exit(f"tokenize_reference: reference decode does not round-trip {p!r}")
        pieces = {}
        for name, pre in splitters().items():
            pieces[name] = [w for w, _ in pre.pre_tokenize_str(p)]
            if "".join(pieces[name]) != p:
                sys.exit(f"tokenize_reference: {name} pieces do not cover {p!r}")
        golden["prompts"].append({"text": p, "ids_parse_special": special,
                                  "ids_no_special": plain, "pieces": pieces})
    for conv in CONVERSATIONS:
        text = render_chat(meta["chat_template"], conv, meta)
        golden["chat"].append({**conv, "text": text, "ids": encode(tk, text, True)})

    vocab = {k: meta[k] for k in ("model", "pre", "bos_token_id", "eos_token_id",
                                  "unknown_token_id", "padding_token_id", "add_bos_token",
                                  "add_space_prefix", "chat_template")}
    vocab.update(source=os.path.basename(a.gguf), generator=golden["generator"],
                 tokens=meta["tokens"], token_type=meta["token_type"], merges=meta["merges"])
    os.makedirs(a.out_dir, exist_ok=True)
    for name, obj in (("smollm2_vocab.json", vocab), ("smollm2_golden.json", golden)):
        path = os.path.join(a.out_dir, name)
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            f.write(dump_lines(obj))
        os.replace(path + ".tmp", path)
        print(f"wrote {path} ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    main()
