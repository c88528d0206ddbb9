/* reports/operators.h — the report section for operator sweeps (seed 000). */
#ifndef CTXBENCH_REPORTS_OPERATORS_H
#define CTXBENCH_REPORTS_OPERATORS_H

#include <jansson.h>

#include "reports/doc.h"
#include "util/error.h"

/* 1 if the group's measurements are an operator sweep (parameters with an
 * operator name and a context length). */
int report_is_operator_sweep(const json_t *group);

/* Adds the section of one experiment group (as store_latest_runs_json gives)
 * to doc: per phase, dimension class and thread count, the operator x
 * context tables (median latency; percent of the attainable roofline and
 * bound class), the latency figure (log-log, stored CIs as error bars,
 * crossovers marked) and the speedup figure (attention over each operator);
 * per dimension class and thread count, the crossover table and the roofline
 * chart.  Returns 0, or -1 with err (out of memory). */
int report_operators_section(const json_t *group, rdoc *doc, cb_err *err);

#endif
