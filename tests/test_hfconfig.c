/* tests/test_hfconfig.c — models/hfconfig.c on the real configs of the four
 * reference checkpoints (tests/fixtures/config/), on defaults, and on every
 * bad field it must refuse (each refusal names the file and the field).
 *
 * Bad configs are a small good Llama or Mamba config with one field changed
 * or removed (built with jansson), so each case tests exactly one field.
 * Never: depend on files outside tests/fixtures or on the network. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/hfconfig.h"

#define FIX "tests/fixtures/config/"

static hfc_config load_ok(const char *path)
{
    hfc_config c;
    cb_err err = {{0}};
    if (hfc_load(path, &c, &err) < 0)
        fail_msg("%s", err.msg);
    return c;
}

static void test_01_llama_3_2_1b(void **state)
{
    hfc_config c = load_ok(FIX "llama-3.2-1b.json");
    assert_int_equal(c.arch, HFC_LLAMA);
    assert_string_equal(c.model_type, "llama");
    assert_string_equal(c.architecture, "LlamaForCausalLM");
    assert_int_equal(c.hidden_size, 2048);
    assert_int_equal(c.intermediate_size, 8192);
    assert_int_equal(c.num_hidden_layers, 16);
    assert_int_equal(c.num_attention_heads, 32);
    assert_int_equal(c.num_key_value_heads, 8);
    assert_int_equal(c.head_dim, 64);
    assert_int_equal(c.vocab_size, 128256);
    assert_int_equal(c.vocab_padded, 128256);
    assert_int_equal(c.max_position_embeddings, 131072);
    assert_true(c.rope_theta == 500000.0);
    assert_true(c.norm_eps == 1e-5);
    assert_true(c.tie_word_embeddings);
    assert_false(c.attention_bias);
    assert_int_equal(c.rope_scaling.kind, HFC_ROPE_LLAMA3);
    assert_true(c.rope_scaling.factor == 32.0);
    assert_true(c.rope_scaling.low_freq_factor == 1.0);
    assert_true(c.rope_scaling.high_freq_factor == 4.0);
    assert_int_equal(c.rope_scaling.original_max_position_embeddings, 8192);
}

static void test_02_qwen2_5_0_5b(void **state)
{
    hfc_config c = load_ok(FIX "qwen2.5-0.5b.json");
    assert_int_equal(c.arch, HFC_QWEN2);
    assert_int_equal(c.hidden_size, 896);
    assert_int_equal(c.intermediate_size, 4864);
    assert_int_equal(c.num_hidden_layers, 24);
    assert_int_equal(c.num_attention_heads, 14);
    assert_int_equal(c.num_key_value_heads, 2);
    assert_int_equal(c.head_dim, 64); /* derived: 896 / 14 */
    assert_int_equal(c.vocab_size, 151936);
    assert_true(c.rope_theta == 1e6);
    assert_true(c.norm_eps == 1e-6);
    assert_true(c.attention_bias); /* implied by qwen2 */
    assert_true(c.tie_word_embeddings);
    assert_int_equal(c.rope_scaling.kind, HFC_ROPE_NONE);
}

static void test_03_mamba_130m_hf(void **state)
{
    hfc_config c = load_ok(FIX "mamba-130m-hf.json");
    assert_int_equal(c.arch, HFC_MAMBA);
    assert_int_equal(c.hidden_size, 768);
    assert_int_equal(c.num_hidden_layers, 24);
    assert_int_equal(c.d_state, 16);
    assert_int_equal(c.d_conv, 4);
    assert_int_equal(c.expand, 2);
    assert_int_equal(c.d_inner, 1536);
    assert_int_equal(c.dt_rank, 48);
    assert_int_equal(c.vocab_size, 50280);
    assert_int_equal(c.vocab_padded, 50280);
    assert_true(c.norm_eps == 1e-5);
    assert_true(c.conv_bias);
    assert_false(c.proj_bias);
    assert_true(c.tie_word_embeddings); /* default for Mamba */
}

static void test_04_mamba_130m_original_layout(void **state)
{
    hfc_config c = load_ok(FIX "mamba-130m.json");
    assert_int_equal(c.arch, HFC_MAMBA); /* from ssm_cfg, no model_type */
    assert_string_equal(c.model_type, "mamba");
    assert_int_equal(c.hidden_size, 768);
    assert_int_equal(c.num_hidden_layers, 24);
    assert_int_equal(c.d_inner, 1536);
    assert_int_equal(c.dt_rank, 48); /* auto: ceil(768 / 16) */
    assert_int_equal(c.vocab_size, 50277);
    assert_int_equal(c.vocab_padded, 50280);
}

static void test_05_mamba2_130m(void **state)
{
    hfc_config c = load_ok(FIX "mamba2-130m.json");
    assert_int_equal(c.arch, HFC_MAMBA2);
    assert_string_equal(c.model_type, "mamba2");
    assert_int_equal(c.hidden_size, 768);
    assert_int_equal(c.num_hidden_layers, 24);
    assert_int_equal(c.d_state, 128);
    assert_int_equal(c.headdim, 64);
    assert_int_equal(c.d_inner, 1536);
    assert_int_equal(c.num_heads, 24);
    assert_int_equal(c.n_groups, 1);
    assert_int_equal(c.chunk_size, 256);
    assert_int_equal(c.d_conv, 4);
    assert_int_equal(c.vocab_size, 50277);
    assert_int_equal(c.vocab_padded, 50288);
    assert_true(c.tie_word_embeddings);
}

static void test_06_mamba2_hf_layout(void **state)
{
    hfc_config c = load_ok(FIX "mamba2-hf.json");
    assert_int_equal(c.arch, HFC_MAMBA2);
    assert_int_equal(c.d_inner, 2048);
    assert_int_equal(c.num_heads, 32);
    assert_int_equal(c.n_groups, 8);
    assert_int_equal(c.d_state, 128);
    assert_false(c.tie_word_embeddings);
    assert_true(c.norm_eps == 1e-6);
}

/* A small good config of each family that bad cases start from. */
static const char *llama_base =
    "{\"model_type\": \"llama\", \"hidden_size\": 64, \"intermediate_size\": 128,"
    " \"num_hidden_layers\": 2, \"num_attention_heads\": 4, \"vocab_size\": 100}";
static const char *mamba_base =
    "{\"model_type\": \"mamba\", \"hidden_size\": 64, \"num_hidden_layers\": 2,"
    " \"vocab_size\": 100}";
static const char *mamba2_base =
    "{\"model_type\": \"mamba2\", \"hidden_size\": 64, \"num_hidden_layers\": 2,"
    " \"vocab_size\": 100, \"head_dim\": 16}";

static void test_07_defaults(void **state)
{
    hfc_config c;
    cb_err err = {{0}};
    assert_int_equal(hfc_parse_text(llama_base, strlen(llama_base), "d.json", &c, &err), 0);
    assert_int_equal(c.num_key_value_heads, 4);
    assert_int_equal(c.head_dim, 16);
    assert_true(c.rope_theta == 10000);
    assert_true(c.norm_eps == 1e-6);
    assert_int_equal(c.max_position_embeddings, 2048);
    assert_false(c.tie_word_embeddings);
    assert_false(c.attention_bias);
    assert_int_equal(c.rope_scaling.kind, HFC_ROPE_NONE);
    assert_int_equal(hfc_parse_text(mamba_base, strlen(mamba_base), "d.json", &c, &err), 0);
    assert_int_equal(c.d_state, 16);
    assert_int_equal(c.dt_rank, 4);
    assert_int_equal(c.d_inner, 128);
    assert_int_equal(c.vocab_padded, 104);
    assert_int_equal(hfc_parse_text(mamba2_base, strlen(mamba2_base), "d.json", &c, &err), 0);
    assert_int_equal(c.num_heads, 8);
    assert_int_equal(c.d_state, 128);
    /* Not NUL-terminated: only len bytes are read. */
    char buf[512];
    size_t n = strlen(llama_base);
    memcpy(buf, llama_base, n);
    memset(buf + n, 'x', sizeof buf - n);
    assert_int_equal(hfc_parse_text(buf, n, "d.json", &c, &err), 0);
}

static void test_08_rope_scaling_variants(void **state)
{
    static const char *lin = "{\"model_type\": \"llama\", \"hidden_size\": 64,"
                             " \"intermediate_size\": 128, \"num_hidden_layers\": 2,"
                             " \"num_attention_heads\": 4, \"vocab_size\": 100,"
                             " \"rope_scaling\": {\"type\": \"linear\", \"factor\": 4}}";
    hfc_config c;
    cb_err err = {{0}};
    assert_int_equal(hfc_parse_text(lin, strlen(lin), "r.json", &c, &err), 0);
    assert_int_equal(c.rope_scaling.kind, HFC_ROPE_LINEAR);
    assert_true(c.rope_scaling.factor == 4);
}

/* One bad case: base with the fields of `set` (a JSON object) put in and the
 * field `drop` removed; the refusal must mention `want`. */
typedef struct bad_case {
    const char **base;
    const char *set, *drop, *want;
} bad_case;

static void expect_bad(const bad_case *b)
{
    json_t *root = json_loads(*b->base, 0, NULL);
    assert_non_null(root);
    if (b->set) {
        json_t *s = json_loads(b->set, 0, NULL);
        if (!s)
            fail_msg("test bug: bad JSON %s", b->set);
        json_object_update(root, s);
        json_decref(s);
    }
    if (b->drop)
        json_object_del(root, b->drop);
    char *text = json_dumps(root, 0);
    json_decref(root);
    hfc_config c;
    cb_err err = {{0}};
    int rc = hfc_parse_text(text, strlen(text), "bad/config.json", &c, &err);
    if (rc == 0)
        fail_msg("accepted: %s", text);
    if (!strstr(err.msg, "bad/config.json") || !strstr(err.msg, b->want))
        fail_msg("error for %s lacks the file or '%s': %s", text, b->want, err.msg);
    free(text);
}

static void test_09_bad_transformer_fields(void **state)
{
    static const bad_case cases[] = {
        {&llama_base, NULL, "hidden_size", "hidden_size: missing"},
        {&llama_base, NULL, "intermediate_size", "intermediate_size: missing"},
        {&llama_base, NULL, "num_hidden_layers", "num_hidden_layers: missing"},
        {&llama_base, NULL, "num_attention_heads", "num_attention_heads: missing"},
        {&llama_base, NULL, "vocab_size", "vocab_size: missing"},
        {&llama_base, "{\"hidden_size\": 0}", NULL, "hidden_size: 0 is out of range"},
        {&llama_base, "{\"hidden_size\": -64}", NULL, "hidden_size: -64"},
        {&llama_base, "{\"hidden_size\": 2097152}", NULL, "hidden_size: 2097152"},
        {&llama_base, "{\"hidden_size\": \"64\"}", NULL, "hidden_size: not an integer"},
        {&llama_base, "{\"hidden_size\": 64.5}", NULL, "hidden_size: not an integer"},
        {&llama_base, "{\"intermediate_size\": 0}", NULL, "intermediate_size"},
        {&llama_base, "{\"num_hidden_layers\": 1025}", NULL, "num_hidden_layers: 1025"},
        {&llama_base, "{\"num_hidden_layers\": 0}", NULL, "num_hidden_layers"},
        {&llama_base, "{\"num_attention_heads\": 5}", NULL, "num_attention_heads: 5 does not divide"},
        {&llama_base, "{\"num_attention_heads\": 0}", NULL, "num_attention_heads"},
        {&llama_base, "{\"num_key_value_heads\": 3}", NULL, "num_key_value_heads: 3 does not divide"},
        {&llama_base, "{\"num_key_value_heads\": 0}", NULL, "num_key_value_heads"},
        {&llama_base, "{\"head_dim\": 15}", NULL, "head_dim: 15 is odd"},
        {&llama_base, "{\"head_dim\": 0}", NULL, "head_dim"},
        {&llama_base, "{\"vocab_size\": -1}", NULL, "vocab_size"},
        {&llama_base, "{\"vocab_size\": 100000000}", NULL, "vocab_size"},
        {&llama_base, "{\"max_position_embeddings\": 0}", NULL, "max_position_embeddings"},
        {&llama_base, "{\"rms_norm_eps\": 0}", NULL, "rms_norm_eps"},
        {&llama_base, "{\"rms_norm_eps\": -1e-6}", NULL, "rms_norm_eps"},
        {&llama_base, "{\"rms_norm_eps\": \"1e-6\"}", NULL, "rms_norm_eps: not a number"},
        {&llama_base, "{\"rope_theta\": -1}", NULL, "rope_theta"},
        {&llama_base, "{\"tie_word_embeddings\": \"yes\"}", NULL, "tie_word_embeddings"},
        {&llama_base, "{\"attention_bias\": 1}", NULL, "attention_bias"},
        {&llama_base, "{\"rope_scaling\": 3}", NULL, "rope_scaling: not an object"},
        {&llama_base, "{\"rope_scaling\": {\"rope_type\": \"yarn\", \"factor\": 4}}", NULL,
         "rope_scaling.rope_type: unsupported 'yarn'"},
        {&llama_base, "{\"rope_scaling\": {\"factor\": 4}}", NULL, "rope_scaling.rope_type"},
        {&llama_base, "{\"rope_scaling\": {\"rope_type\": \"llama3\", \"low_freq_factor\": 1,"
                      " \"high_freq_factor\": 4, \"original_max_position_embeddings\": 8192}}",
         NULL, "rope_scaling.factor: missing"},
        {&llama_base, "{\"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8,"
                      " \"high_freq_factor\": 4, \"original_max_position_embeddings\": 8192}}",
         NULL, "rope_scaling.low_freq_factor: missing"},
        {&llama_base, "{\"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8,"
                      " \"low_freq_factor\": 4, \"high_freq_factor\": 1,"
                      " \"original_max_position_embeddings\": 8192}}",
         NULL, "rope_scaling.high_freq_factor"},
        {&llama_base, "{\"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8,"
                      " \"low_freq_factor\": 1, \"high_freq_factor\": 4,"
                      " \"original_max_position_embeddings\": 0}}",
         NULL, "rope_scaling.original_max_position_embeddings"},
        {&llama_base, "{\"rope_scaling\": {\"rope_type\": \"linear\", \"factor\": -2}}", NULL,
         "rope_scaling.factor"},
        {&llama_base, "{\"model_type\": \"gpt2\"}", NULL, "model_type: unsupported architecture 'gpt2'"},
        {&llama_base, "{\"model_type\": 7}", NULL, "model_type: not a string"},
        {&llama_base, NULL, "model_type", "model_type: missing"},
        {&llama_base, "{\"model_type\": null, \"architectures\": [\"GPT2LMHeadModel\"]}", NULL,
         "architectures: unsupported architecture 'GPT2LMHeadModel'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_bad(&cases[i]);
}

static void test_10_bad_mamba_fields(void **state)
{
    static const bad_case cases[] = {
        {&mamba_base, NULL, "hidden_size", "hidden_size: missing"},
        {&mamba_base, NULL, "num_hidden_layers", "num_hidden_layers: missing"},
        {&mamba_base, NULL, "vocab_size", "vocab_size: missing"},
        {&mamba_base, "{\"hidden_size\": -768}", NULL, "hidden_size"},
        {&mamba_base, "{\"state_size\": 0}", NULL, "state_size"},
        {&mamba_base, "{\"d_state\": 100000}", NULL, "state_size"},
        {&mamba_base, "{\"conv_kernel\": 0}", NULL, "conv_kernel"},
        {&mamba_base, "{\"d_conv\": 1000}", NULL, "conv_kernel"},
        {&mamba_base, "{\"expand\": 0}", NULL, "expand"},
        {&mamba_base, "{\"hidden_size\": 1048576, \"expand\": 2}", NULL, "expand"},
        {&mamba_base, "{\"time_step_rank\": \"big\"}", NULL, "time_step_rank: not an integer"},
        {&mamba_base, "{\"time_step_rank\": 0}", NULL, "time_step_rank"},
        {&mamba_base, "{\"intermediate_size\": 0}", NULL, "intermediate_size"},
        {&mamba_base, "{\"pad_vocab_size_multiple\": 0}", NULL, "pad_vocab_size_multiple"},
        {&mamba_base, "{\"layer_norm_epsilon\": 2}", NULL, "layer_norm_epsilon"},
        {&mamba_base, "{\"use_conv_bias\": \"true\"}", NULL, "use_conv_bias"},
        {&mamba_base, "{\"num_hidden_layers\": 4096}", NULL, "num_hidden_layers"},
        {&mamba_base, "{\"ssm_cfg\": \"x\"}", NULL, "ssm_cfg"},
        {&mamba_base, "{\"attn_layer_idx\": [1]}", NULL, "attn_layer_idx"},
        {&mamba_base, "{\"ssm_cfg\": {\"d_state\": -4}}", NULL, "state_size"},
        {&mamba2_base, "{\"head_dim\": 48}", NULL, "head_dim: 48 does not divide"},
        {&mamba2_base, "{\"head_dim\": 0}", NULL, "head_dim"},
        {&mamba2_base, "{\"num_heads\": 4}", NULL, "num_heads: 4 x head_dim 16"},
        {&mamba2_base, "{\"n_groups\": 3}", NULL, "n_groups: 3 does not divide num_heads 8"},
        {&mamba2_base, "{\"n_groups\": 0}", NULL, "n_groups"},
        {&mamba2_base, "{\"chunk_size\": 0}", NULL, "chunk_size"},
        {&mamba2_base, "{\"state_size\": 0}", NULL, "state_size"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_bad(&cases[i]);
}

static void test_11_bad_json_and_files(void **state)
{
    static const char *texts[] = {"", "{", "[1, 2]", "\"llama\"", "{\"a\": 1} x",
                                  "{\"model_type\": \"llama\", \"model_type\": \"qwen2\"}"};
    static const char *want[] = {"bad JSON", "bad JSON", "not a JSON object", "bad JSON",
                                 "bad JSON", "duplicate"};
    hfc_config c;
    cb_err err = {{0}};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        assert_int_equal(hfc_parse_text(texts[i], strlen(texts[i]), "j.json", &c, &err), -1);
        if (!strstr(err.msg, "j.json") || !strstr(err.msg, want[i]))
            fail_msg("'%s': %s", texts[i], err.msg);
    }
    assert_int_equal(hfc_load(FIX "absent.json", &c, &err), -1);
    assert_non_null(strstr(err.msg, "absent.json"));
}

static void test_12_every_prefix_refused(void **state)
{
    /* Regression guard for the reader's bounds: no prefix of a real config
     * may crash or be accepted. */
    size_t len;
    FILE *fp = fopen(FIX "llama-3.2-1b.json", "rb");
    assert_non_null(fp);
    char text[4096];
    len = fread(text, 1, sizeof text, fp);
    fclose(fp);
    hfc_config c;
    cb_err err;
    for (size_t n = 0; n + 2 < len; n++) {
        char *cut = malloc(n ? n : 1);
        memcpy(cut, text, n);
        assert_int_equal(hfc_parse_text(cut, n, "cut.json", &c, &err), -1);
        free(cut);
    }
}

static void test_13_arch_names(void **state)
{
    assert_string_equal(hfc_arch_name(HFC_LLAMA), "llama");
    assert_string_equal(hfc_arch_name(HFC_QWEN2), "qwen2");
    assert_string_equal(hfc_arch_name(HFC_MAMBA), "mamba");
    assert_string_equal(hfc_arch_name(HFC_MAMBA2), "mamba2");
    assert_string_equal(hfc_arch_name((hfc_arch)42), "?");
}

/* Missing keys take the defaults of the layout the config is written in:
 * transformers' Mamba2Config (no ssm_cfg) unties embeddings and has 8
 * groups; mamba_ssm's (ssm_cfg) ties them and has 1. */
static void test_14_mamba2_layout_defaults(void **state)
{
    (void)state;
    const char *hf = "{\"model_type\": \"mamba2\", \"hidden_size\": 768, "
                     "\"num_hidden_layers\": 24, \"vocab_size\": 50288, \"state_size\": 128}";
    const char *ssm = "{\"d_model\": 768, \"n_layer\": 24, \"vocab_size\": 50277, "
                      "\"ssm_cfg\": {\"layer\": \"Mamba2\"}}";
    hfc_config c;
    cb_err err = {{0}};
    if (hfc_parse_text(hf, strlen(hf), "hf.json", &c, &err) != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(c.n_groups, 8);
    assert_false(c.tie_word_embeddings);
    if (hfc_parse_text(ssm, strlen(ssm), "ssm.json", &c, &err) != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(c.n_groups, 1);
    assert_true(c.tie_word_embeddings);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_01_llama_3_2_1b),
        cmocka_unit_test(test_02_qwen2_5_0_5b),
        cmocka_unit_test(test_03_mamba_130m_hf),
        cmocka_unit_test(test_04_mamba_130m_original_layout),
        cmocka_unit_test(test_05_mamba2_130m),
        cmocka_unit_test(test_06_mamba2_hf_layout),
        cmocka_unit_test(test_07_defaults),
        cmocka_unit_test(test_08_rope_scaling_variants),
        cmocka_unit_test(test_09_bad_transformer_fields),
        cmocka_unit_test(test_10_bad_mamba_fields),
        cmocka_unit_test(test_11_bad_json_and_files),
        cmocka_unit_test(test_12_every_prefix_refused),
        cmocka_unit_test(test_13_arch_names),
        cmocka_unit_test(test_14_mamba2_layout_defaults),
    };
    return cmocka_run_group_tests_name("hfconfig", tests, NULL, NULL);
}
