/* models/catalogue.h — the named model configurations experiments refer to:
 * the real shapes of released models (mamba-130m, mamba2-130m,
 * Qwen2.5-0.5B, Llama-3.2-1B), a Transformer and a hybrid matched to the
 * 130M Mamba models in parameter count (within 10%; catalogue.c says how
 * each was matched), and tiny configurations for tests and smoke runs.
 *
 * A catalogue entry is shapes only: weights come from lm_weights_synth
 * (seeded) or a checkpoint; the caller sets wtype and max_context.
 *
 * Never: allocate, print, read files. */
#ifndef CTXBENCH_MODELS_CATALOGUE_H
#define CTXBENCH_MODELS_CATALOGUE_H

#include "models/model.h"
#include "util/error.h"

typedef struct catalogue_entry {
    const char *name;        /* e.g. "mamba-130m" */
    const char *description; /* one line: what it is, where its shape comes from */
    model_config cfg;        /* wtype f32, max_context 0 (the caller sets both) */
} catalogue_entry;

/* The entries, in a stable order; *n receives their count. */
const catalogue_entry *catalogue_entries(int *n);

/* The entry called name (exact, case-sensitive), or NULL. */
const catalogue_entry *catalogue_find(const char *name);

/* The configuration called name with wtype and max_context set.  Returns 0,
 * or -1 with err listing the known names when name is unknown. */
int catalogue_config(const char *name, op_wtype wtype, int max_context, model_config *cfg,
                     cb_err *err);

#endif
