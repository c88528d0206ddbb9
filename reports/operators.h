/* reports/operators.h — the report section for operator sweeps (seed 000). */
#ifndef CTXBENCH_REPORTS_OPERATORS_H
#define CTXBENCH_REPORTS_OPERATORS_H

#include <stdio.h>

#include <jansson.h>

#include "util/error.h"

/* 1 if the group's measurements are an operator sweep (parameters with an
 * operator name and a context length). */
int report_is_operator_sweep(const json_t *group);

/* Writes the operator x context tables and the crossover table of one
 * experiment group (as store_latest_runs_json gives).  Returns 0, or -1 with err. */
int report_operators_section(const json_t *group, FILE *out, cb_err *err);

#endif
