/* reports/architectures.h — the report section for whole-model sweeps (the
 * "models" runner: seed 001's architectures and the weight-type study). */
#ifndef CTXBENCH_REPORTS_ARCHITECTURES_H
#define CTXBENCH_REPORTS_ARCHITECTURES_H

#include <jansson.h>

#include "reports/doc.h"
#include "util/error.h"

/* 1 if the group's measurements are a whole-model sweep (parameters with a
 * model name, a phase, a weight type and a context length). */
int report_is_models_sweep(const json_t *group);

/* Writes the section of one experiment group (as store_latest_runs_json
 * gives): for every (weight type, threads) with two or more contexts, TTFT
 * and TPOT against context per model, throughput, where each SSM or hybrid
 * overtakes the Transformer and the largest ratio each way, the memory split
 * at the longest common context, the scan's share of latency and the
 * per-op-class breakdown, beside the paper's figures (labelled as such); and,
 * when the group has several weight types or thread counts, decode weight
 * bandwidth and prefill FLOP rate against the platform's measured ceilings.
 * Returns 0, or -1 with err (out of memory). */
int report_architectures_section(const json_t *group, rdoc *doc, cb_err *err);

#endif
