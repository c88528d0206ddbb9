/* experiments/runners.c — the registry of runners, and point accessors (see runner.h). */
#include <assert.h>
#include <string.h>

#include "experiments/runner.h"

extern const exp_runner exp_runner_roofline;
extern const exp_runner exp_runner_gemm;
extern const exp_runner exp_runner_operators;
extern const exp_runner exp_runner_models;

static const exp_runner *const exp_runners[] = {
    &exp_runner_roofline,
    &exp_runner_gemm,
    &exp_runner_operators,
    &exp_runner_models,
    NULL,
};

const exp_runner *const *exp_runner_all(void)
{
    return exp_runners;
}

const exp_runner *exp_runner_find(const char *name)
{
    for (int i = 0; exp_runners[i]; i++)
        if (strcmp(exp_runners[i]->name, name) == 0)
            return exp_runners[i];
    return NULL;
}

static int exp_param_index(const exp_runner *r, const char *name)
{
    for (int i = 0; i < r->n_params; i++)
        if (strcmp(r->params[i].name, name) == 0)
            return i;
    return -1;
}

int64_t exp_point_int(const exp_runner *r, const exp_point *p, const char *name)
{
    int i = exp_param_index(r, name);
    assert(i >= 0 && r->params[i].type == EXP_INT); /* a runner asks for its own parameters */
    return p->ival[i];
}

const char *exp_point_word(const exp_runner *r, const exp_point *p, const char *name)
{
    int i = exp_param_index(r, name);
    assert(i >= 0 && r->params[i].type == EXP_WORD); /* a runner asks for its own parameters */
    return p->sval[i];
}
