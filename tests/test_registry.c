/* tests/test_registry.c — every operator in the registry keeps the contract of
 * operators/op.h: well-formed names and labels, shape checks that refuse bad
 * shapes with the field named, a positive cost, and a create / run / verify /
 * destroy round trip on small awkward shapes with 1, 2 and 3 workers.  Also the
 * operators runner's sweep: unused parameters leave no duplicate points and a
 * shape an operator refuses by design is left out with its reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "experiments/spec.h"
#include "operators/op.h"

static const char *const families[] = {"quadratic", "sub-quadratic", "dense", "elementwise", NULL};

static op_dims small_dims(const op_entry *e, int64_t L)
{
    op_dims d = {.seq_len = L, .n_heads = 4, .n_kv_heads = 2, .head_dim = 18, .d_model = 40,
                 .d_inner = 24, .d_state = 5, .chunk = 0};
    if (strcmp(e->op, "attention") != 0)
        d.n_kv_heads = d.n_heads;
    return d;
}

static void test_01_every_family_is_registered(void **state)
{
    (void)state;
    static const char *const ops[] = {"attention", "linear_attention", "retention", "fourier",
                                      "mamba1_scan", "conv1d", "mamba2_ssd", "gemm", "gemv",
                                      "rmsnorm", "softmax", NULL};
    const op_entry *const *all = op_all();
    for (int i = 0; ops[i]; i++) {
        int found = 0;
        for (int j = 0; all[j]; j++)
            found |= strcmp(all[j]->op, ops[i]) == 0;
        if (!found)
            fail_msg("no registry entry for operator %s", ops[i]);
    }
}

static void test_02_names_and_labels(void **state)
{
    (void)state;
    const op_entry *const *all = op_all();
    for (int i = 0; all[i]; i++) {
        const op_entry *e = all[i];
        char want[128];
        snprintf(want, sizeof want, "%s.%s", e->op, e->impl);
        assert_string_equal(e->name, want);
        int ok = 0;
        for (int f = 0; families[f]; f++)
            ok |= strcmp(e->family, families[f]) == 0;
        if (!ok)
            fail_msg("%s: family '%s'", e->name, e->family);
        assert_true(strcmp(e->phase, "prefill") == 0 || strcmp(e->phase, "decode") == 0);
        assert_true(e->tolerance >= 0); /* 0: bit-identical to the reference */
        assert_ptr_equal(op_find(e->name), e);
        for (int j = 0; j < i; j++)
            assert_string_not_equal(all[j]->name, e->name);
    }
    assert_null(op_find("attention.nonsense"));
}

static void test_03_bad_shapes_are_refused(void **state)
{
    (void)state;
    const op_entry *const *all = op_all();
    for (int i = 0; all[i]; i++) {
        const op_entry *e = all[i];
        cb_err err = {{0}};
        if (strstr(e->uses, "seq_len")) {
            op_dims d = small_dims(e, 0);
            if (e->check(&d, &err) == 0)
                fail_msg("%s accepts L = 0", e->name);
            d = small_dims(e, (int64_t)1 << 40);
            if (e->check(&d, &err) == 0)
                fail_msg("%s accepts L = 2^40", e->name);
        }
        op_dims d = small_dims(e, 8);
        d.d_model = d.d_inner = d.n_heads = d.head_dim = 0;
        if (e->check(&d, &err) == 0)
            fail_msg("%s accepts zero sizes", e->name);
        const op_entry *found;
        assert_int_equal(op_lookup_checked(e->name, &d, &found, &err), -1);
        assert_non_null(strstr(err.msg, e->name));
    }
    cb_err err = {{0}};
    const op_entry *found;
    op_dims d = {.seq_len = 8};
    assert_int_equal(op_lookup_checked("warp.drive", &d, &found, &err), -1);
    assert_string_equal(err.msg, "unknown operator 'warp.drive'");
}

static void test_04_round_trip_on_small_shapes(void **state)
{
    (void)state;
    static const int64_t lengths[] = {1, 7, 33};
    const op_entry *const *all = op_all();
    for (int i = 0; all[i]; i++) {
        const op_entry *e = all[i];
        for (size_t l = 0; l < sizeof lengths / sizeof lengths[0]; l++) {
            op_dims d = small_dims(e, lengths[l]);
            cb_err err = {{0}};
            if (e->check(&d, &err) != 0)
                fail_msg("%s L=%lld: %s", e->name, (long long)lengths[l], err.msg);
            op_cost c = e->cost(&d);
            assert_true(c.flops > 0 && c.bytes > 0 && c.state_bytes >= 0);
            for (int workers = 1; workers <= 3; workers++) {
                void *inst = NULL;
                if (e->create(&d, 7, workers, &inst, &err) != 0)
                    fail_msg("%s create: %s", e->name, err.msg);
                for (int w = 0; w < workers; w++)
                    e->run(inst, w, workers);
                if (e->verify(inst, &err) != 0)
                    fail_msg("%s L=%lld, %d workers: %s", e->name, (long long)lengths[l], workers,
                             err.msg);
                e->destroy(inst);
            }
        }
    }
}

static void test_05_operators_sweep_drops_duplicates_and_inapplicable(void **state)
{
    (void)state;
    const char *text = "[experiment]\nname = t\nrunner = operators\n"
                       "[sweep]\noperator = attention.naive, mamba1_scan.sequential\n"
                       "dims = 130m\ncontext = 1024, 65536\nd_state = 16, 128\nthreads = 1\n";
    exp_spec *spec = NULL;
    cb_err err = {{0}};
    assert_int_equal(exp_spec_from_text("t", text, "quick", 2, &spec, &err), 0);
    /* naive: d_state does not matter (1 point per context) and L = 65536 is
     * refused by design; the scan: 2 contexts x 2 states. */
    assert_int_equal(spec->n_points, 1 + 4);
    assert_int_equal(spec->n_inapplicable, 1);
    assert_non_null(strstr(spec->inapplicable_why, "65536"));
    assert_null(strstr(spec->points[0].params_json, "d_state"));
    assert_non_null(strstr(spec->points[1].params_json, "\"d_state\":16"));
    exp_spec_free(spec);
    const char *bad = "[experiment]\nname = t\nrunner = operators\n[sweep]\noperator = attention.slow\n";
    assert_int_equal(exp_spec_from_text("bad", bad, "quick", 2, &spec, &err), -1);
    assert_non_null(strstr(err.msg, "bad:5: unknown operator 'attention.slow'"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_01_every_family_is_registered),
        cmocka_unit_test(test_02_names_and_labels),
        cmocka_unit_test(test_03_bad_shapes_are_refused),
        cmocka_unit_test(test_04_round_trip_on_small_shapes),
        cmocka_unit_test(test_05_operators_sweep_drops_duplicates_and_inapplicable),
    };
    return cmocka_run_group_tests_name("registry", tests, NULL, NULL);
}
