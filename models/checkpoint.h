/* models/checkpoint.h — Hugging Face checkpoints (config.json plus
 * model.safetensors, or shards listed by model.safetensors.index.json) read
 * into lm_weights, and written from them (tests, exports of synthetic
 * models).
 *
 * Layouts (tensor names; "model." / "backbone." prefixes as shipped):
 *   Llama / Qwen2   model.embed_tokens.weight, model.layers.{l}.input_layernorm.weight,
 *                   .self_attn.{q,k,v,o}_proj.weight (+ q,k,v .bias for Qwen2),
 *                   .post_attention_layernorm.weight, .mlp.{gate,up,down}_proj.weight,
 *                   model.norm.weight, lm_head.weight (absent when tied)
 *   mamba-*-hf      backbone.embeddings.weight, backbone.layers.{l}.norm.weight,
 *                   .mixer.{in_proj.weight, conv1d.weight (C,1,4), conv1d.bias,
 *                   x_proj.weight, dt_proj.weight, dt_proj.bias, A_log, D,
 *                   out_proj.weight}, backbone.norm_f.weight, lm_head.weight
 *   Mamba-2         backbone.embeddings.weight, backbone.layers.{l}.norm.weight,
 *                   .mixer.{in_proj.weight, conv1d.weight, conv1d.bias, dt_bias,
 *                   A_log, D, norm.weight, out_proj.weight}, backbone.norm_f.weight,
 *                   lm_head.weight
 * Every tensor's name, dtype (F32, F16, BF16) and shape is checked; errors
 * name the file and the tensor.  Tensors are read through the mmap of
 * models/safetensors.h and converted into the model's storage (cfg.wtype for
 * matrices, fp32 for vectors); the checkpoint is closed before returning.
 *
 * Never: print, exit, or keep a file open after returning. */
#ifndef CTXBENCH_MODELS_CHECKPOINT_H
#define CTXBENCH_MODELS_CHECKPOINT_H

#include "models/lm.h"
#include "models/model.h"
#include "models/safetensors.h"
#include "util/error.h"

/* The architecture a config.json in dir describes, as a model_config:
 * shapes from models/hfconfig.h, wtype and max_context as given (max_context
 * is used by models with attention layers).  Returns 0, or -1 with err
 * naming the file and field (missing, absurd, unknown architecture). */
int ckpt_config(const char *dir, op_wtype wtype, int max_context, model_config *cfg,
                cb_err *err);

/* Loads the checkpoint in dir: ckpt_config, then every tensor of the
 * layout, whatever its dtype among F32, F16 and BF16 (matrices converted to
 * cfg.wtype, copied when the dtype already matches; vectors to fp32).
 * Tensors the layout does not name are ignored; so is lm_head.weight when
 * config.json ties the embeddings (the head is the embedding, as in
 * transformers).  mamba_ssm's backbone.embedding.weight is read for
 * backbone.embeddings.weight.  Only safetensors are read: a folder holding
 * only pytorch_model.bin is refused as such.  Returns 0 with *cfg and *w
 * filled (free w with lm_weights_free or hand it to lm_create), or -1 with
 * err naming the file and the tensor or field, *w zeroed. */
int ckpt_load(const char *dir, op_wtype wtype, int max_context, model_config *cfg,
              lm_weights *w, cb_err *err);

/* Writes w (of cfg) as a checkpoint in dir (created if missing):
 * config.json in the layout's own keys (Llama, or Qwen2 when cfg.qkv_bias;
 * mamba; mamba2), and the tensors with matrices stored as matrix_dtype
 * (ST_F32, ST_F16 or ST_BF16, rounded to nearest even when narrower than
 * cfg.wtype) and vectors as F32, in n_shards files (model.safetensors when
 * 1; model-0000i-of-0000n.safetensors plus model.safetensors.index.json
 * otherwise), the layout's tensors split into n_shards runs in order.
 * ckpt_config / ckpt_load of the result give back cfg (with the given wtype
 * and max_context) and, for a lossless matrix_dtype, w.  The hybrid has no
 * Hugging Face layout and is refused.  Existing files of the same names are
 * replaced; a folder holding an index is refused for n_shards 1 (the index
 * would shadow the new file).  Returns 0, or -1 with err; on error no file
 * this call wrote is left. */
int ckpt_save(const char *dir, const model_config *cfg, const lm_weights *w,
              st_dtype matrix_dtype, int n_shards, cb_err *err);

#endif
