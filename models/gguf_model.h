/* models/gguf_model.h — GGUF checkpoints (llama.cpp's layout) read into the
 * models of models/: the configuration from the GGUF metadata, the tensors
 * dequantised into lm_weights.  No second implementation of any model: a
 * GGUF file becomes the same model_config + lm_weights that synthetic
 * weights or a safetensors checkpoint (models/checkpoint.h) give.
 *
 * Architectures, by general.architecture:
 *   "llama" (Llama, SmolLM2), "qwen2"   MODEL_ARCH_TRANSFORMER
 *   "mamba"                             MODEL_ARCH_MAMBA1
 *   "mamba2" (ssm.group_count 1)        MODEL_ARCH_MAMBA2
 * Anything else is refused, naming general.architecture.
 *
 * Metadata (<a> = general.architecture):
 *   every arch   <a>.block_count, <a>.embedding_length,
 *                <a>.attention.layer_norm_rms_epsilon; vocab = the rows of
 *                token_embd.weight; tied embeddings when output.weight is
 *                absent
 *   llama/qwen2  <a>.feed_forward_length, <a>.attention.head_count,
 *                <a>.attention.head_count_kv (default head_count),
 *                <a>.rope.freq_base (default 10000), head_dim from
 *                <a>.attention.key_length (default embedding / heads;
 *                value_length must equal it), <a>.rope.dimension_count must
 *                equal head_dim (no partial rotary).  RoPE scaling:
 *                <a>.rope.scaling.type other than "none" is refused; Llama 3
 *                scaling, which llama.cpp stores as the per-frequency
 *                divisors of a rope_freqs.weight tensor, is recognised when
 *                those divisors are exactly Llama 3's with low_freq_factor 1,
 *                high_freq_factor 4 and original context
 *                <a>.rope.scaling.original_context_length (default 8192),
 *                and refused otherwise.  q/k/v biases when blk.0.attn_q.bias
 *                exists (Qwen2).
 *   mamba        <a>.ssm.conv_kernel (4), .ssm.inner_size (a multiple of the
 *                embedding: expand), .ssm.state_size, .ssm.time_step_rank;
 *                .ssm.dt_b_c_rms true (Falcon-Mamba) is refused
 *   mamba2       the same, with time_step_rank = heads (ssm_head_dim =
 *                inner_size / heads) and .ssm.group_count 1 (default 1);
 *                the SSD prefill chunk, which GGUF does not hold, is
 *                GGUF_MODEL_CHUNK
 *
 * Tensors (ggml shapes, ne[0] first):
 *   token_embd.weight [d, vocab], output_norm.weight [d], output.weight
 *   [d, vocab] (absent when tied); per layer blk.N.:
 *   llama/qwen2  attn_norm.weight, attn_q.weight [d, H D], attn_k.weight and
 *                attn_v.weight [d, Hkv D], attn_{q,k,v}.bias (with biases),
 *                attn_output.weight [H D, d], ffn_norm.weight,
 *                ffn_gate.weight / ffn_up.weight [d, ffn], ffn_down.weight
 *   mamba        attn_norm.weight, ssm_in.weight [d, 2 di],
 *                ssm_conv1d.weight [4, di], ssm_conv1d.bias, ssm_x.weight
 *                [di, R + 2N], ssm_dt.weight [R, di], ssm_dt.bias, ssm_a
 *                [N, di], ssm_d [di], ssm_out.weight [di, d]
 *   mamba2       attn_norm.weight, ssm_in.weight [d, 2 di + 2N + H],
 *                ssm_conv1d.weight [4, di + 2N], ssm_conv1d.bias,
 *                ssm_dt.bias [H], ssm_a [1, H], ssm_d [1, H],
 *                ssm_norm.weight [di, 1], ssm_out.weight [di, d]
 * A vector may come with any shape holding its elements along one dim
 * ([H] or [1, H]); everything else must have exactly the shape the config
 * implies.  A tensor the layout does not name (e.g. attn_output.bias, which
 * the model cannot apply) is refused rather than silently ignored.
 *
 * What llama.cpp's converter changed, undone here:
 *   - "llama" attn_q / attn_k rows (and their biases) are permuted per head
 *     (HF row j D/2 + i stored at row 2 i + j) for ggml's interleaved RoPE;
 *     the Transformer uses Hugging Face's rotate-half RoPE, so the rows are
 *     put back.  "qwen2" files are not permuted (NEOX RoPE in ggml).
 *   - Mamba's ssm_a holds A = -exp(A_log); the model takes A_log, so
 *     A_log = log(-A) (every A must be negative and finite).
 *
 * Storage: matrices are stored as cfg.wtype (the layers' projections) and
 * cfg.emb_wtype (token embedding, LM head), vectors as fp32.  A matrix whose
 * file type is its storage type is copied as it is (a Q4_1 file loaded with
 * wtype q4_1 keeps its exact bytes, and decode streams them through the
 * native int8 x int4 GEMV); any other is dequantised (op_dequant_row, any type
 * of operators/quant.h: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0,
 * Q2_K..Q8_K) and converted to the storage type (block types requantised by
 * ggml's reference quantisers, which loses precision twice).
 * gguf_model_native_storage reads the storage types off the file itself.
 *
 * Errors name the file and the key or tensor ("x.gguf: tensor
 * blk.3.attn_q.weight: shape [576, 192], want [576, 576]").
 *
 * Never: print, exit, keep the file open after returning (when given a
 * path), or hand out half-loaded weights. */
#ifndef CTXBENCH_MODELS_GGUF_MODEL_H
#define CTXBENCH_MODELS_GGUF_MODEL_H

#include "models/gguf.h"
#include "models/lm.h"
#include "models/model.h"
#include "util/error.h"

/* The SSD prefill chunk given to Mamba-2 models (GGUF does not store one). */
#define GGUF_MODEL_CHUNK 256

/* The configuration the GGUF metadata (and tensor shapes) of f describe,
 * with wtype, emb_wtype and max_context as given (max_context is used by
 * models with attention layers).  Returns 0 with *cfg filled (passing
 * model_config_check), or -1 with err naming the file and the key or tensor
 * (missing, wrong type, absurd value, unknown architecture, something the
 * models cannot run). */
int gguf_model_config_from(const gguf_file *f, op_wtype wtype, op_wtype emb_wtype,
                           int max_context, model_config *cfg, cb_err *err);

/* The same from the file at path (opened, read, closed). */
int gguf_model_config(const char *path, op_wtype wtype, op_wtype emb_wtype, int max_context,
                      model_config *cfg, cb_err *err);

/* gguf_model_config_from, then every tensor of the layout checked (present,
 * shape, a dequantisable type) and read into freshly allocated weights
 * (copied or converted; see Storage above).  f stays the caller's and may be closed afterwards (nothing
 * points into it).  Returns 0 with *cfg and *w filled (free w with
 * lm_weights_free or hand it to lm_create), or -1 with err naming the file
 * and the key or tensor, *w zeroed. */
int gguf_model_load_from(const gguf_file *f, op_wtype wtype, op_wtype emb_wtype, int max_context,
                         model_config *cfg, lm_weights *w, cb_err *err);

/* The same from the file at path (opened, read, closed). */
int gguf_model_load(const char *path, op_wtype wtype, op_wtype emb_wtype, int max_context,
                    model_config *cfg, lm_weights *w, cb_err *err);

/* The storage that keeps f's matrices exactly as the file holds them:
 * *wtype the one type of every layer matrix, *emb_wtype the one type of the
 * embedding and LM head (SmolLM2's Q4_1 file: q4_1 and q8_0).  Returns 0, or
 * -1 with err naming the first tensor whose type no op_wtype holds (a
 * K-quant, say) or that differs from the others of its kind. */
int gguf_model_native_storage(const gguf_file *f, op_wtype *wtype, op_wtype *emb_wtype,
                              cb_err *err);

/* The storage a user named: "native" (gguf_model_native_storage) or an
 * op_wtype name for every matrix.  Returns 0, or -1 with err. */
int gguf_model_storage_named(const gguf_file *f, const char *name, op_wtype *wtype,
                             op_wtype *emb_wtype, cb_err *err);

#endif
