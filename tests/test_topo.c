/* tests/test_topo.c — platforms/topo.c and platforms/sysinfo.c: the platform
 * record read from three hand-written hwloc XML fixtures and from the live
 * machine, the fingerprint, the JSON and XML exports, the error paths, and the
 * /proc and /sys text parsers.
 *
 * Fixtures (tests/fixtures/topo/, paths relative to the repo root where the
 * tests run):
 *   x86_server.xml        1 package, 8 cores / 16 PUs (core i = PUs i, i+8),
 *                         L1d 48K, L1i 32K, L2 1.25M per core, L3 12M shared,
 *                         one NUMA node of 64 GiB, no cpukinds, AVX-512 ISA.
 *   arm_2big_4little.xml  6 cores: 4 Cortex-A55 (PUs 0-3, L1 32K+32K, cluster
 *                         L2 512K) and 2 Cortex-A76 (PUs 4-5, L1 64K+64K,
 *                         cluster L2 1M); kinds efficiency 0 (little) and 1
 *                         (big, listed first in the file); 4 GiB; "neon dotprod".
 *   x86_hybrid_pe.xml     6 P-cores x 2 threads (PUs 0-11, L1d 48K, L1i 32K,
 *                         L2 1.25M each) + 8 E-cores (PUs 12-19, L1d 32K,
 *                         L1i 64K, L2 2M per 4), L3 24M; kinds IntelAtom (0)
 *                         and IntelCore (1); 32 GiB; AVX2 ISA.
 *
 * Never: no writes outside mkstemp files in /tmp (removed again). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "platforms/sysinfo.h"
#include "platforms/topo.h"
#include "util/text.h"

#define FIX "tests/fixtures/topo/"
#define GIB (UINT64_C(1) << 30)

/* ---- helpers ------------------------------------------------------------ */

static void describe_path(const char *path, plat_info *info)
{
    cb_err err = {{0}};
    plat_topo *topo = NULL;
    if (plat_topo_open(path, &topo, &err) != 0)
        fail_msg("open %s: %s", path ? path : "live", err.msg);
    if (plat_describe(topo, info, &err) != 0)
        fail_msg("describe %s: %s", path ? path : "live", err.msg);
    plat_topo_free(topo);
}

static void assert_cache(const plat_cache *c, int level, const char *type, uint64_t size,
                         int line, int instances)
{
    assert_int_equal(c->level, level);
    assert_string_equal(c->type, type);
    assert_int_equal(c->size_bytes, size);
    assert_int_equal(c->line_bytes, line);
    assert_int_equal(c->instances, instances);
}

static void assert_kind(const plat_kind *k, int efficiency, int cores, int pus,
                        const char *cpulist, const char *core_type)
{
    assert_int_equal(k->efficiency, efficiency);
    assert_int_equal(k->n_cores, cores);
    assert_int_equal(k->n_pus, pus);
    assert_string_equal(k->cpulist, cpulist);
    assert_string_equal(k->core_type, core_type);
}

static int is_hex64(const char *s)
{
    if (strlen(s) != 64)
        return 0;
    for (; *s; s++)
        if (!isxdigit((unsigned char)*s) || isupper((unsigned char)*s))
            return 0;
    return 1;
}

/* Writes text to a fresh temporary file; returns its heap path (caller unlinks
 * and frees). */
static char *temp_file(const char *text)
{
    char *path = strdup("/tmp/ctxbench-test-topo-XXXXXX");
    assert_non_null(path);
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t n = strlen(text);
    assert_int_equal(write(fd, text, n), (ssize_t)n);
    close(fd);
    return path;
}

static void remove_temp(char *path)
{
    unlink(path);
    free(path);
}

/* The fixture text with the first occurrence of from replaced by to (caller frees). */
static char *fixture_with(const char *name, const char *from, const char *to)
{
    char path[256];
    snprintf(path, sizeof path, FIX "%s", name);
    char *text = cb_read_file(path, NULL, NULL);
    assert_non_null(text);
    char *at = strstr(text, from);
    assert_non_null(at);
    size_t head = (size_t)(at - text), n = strlen(text) - strlen(from) + strlen(to) + 1;
    char *out = malloc(n);
    assert_non_null(out);
    snprintf(out, n, "%.*s%s%s", (int)head, text, to, at + strlen(from));
    free(text);
    return out;
}

/* Opens a path that must fail; returns the message. */
static void assert_open_fails(const char *path, const char *expect, cb_err *err)
{
    plat_topo *topo = (plat_topo *)1;
    assert_int_equal(plat_topo_open(path, &topo, err), -1);
    assert_null(topo);
    assert_non_null(strstr(err->msg, path));
    if (expect)
        assert_non_null(strstr(err->msg, expect));
}

/* ---- x86 server: homogeneous, no cpukinds -------------------------------------- */

static void test_01_x86_server_counts(void **state)
{
    plat_info in;
    describe_path(FIX "x86_server.xml", &in);
    assert_string_equal(in.source, FIX "x86_server.xml");
    assert_int_equal(in.n_packages, 1);
    assert_int_equal(in.n_numa, 1);
    assert_int_equal(in.n_cores, 8);
    assert_int_equal(in.n_pus, 16);
    assert_string_equal(in.arch, "x86_64");
    assert_string_equal(in.cpu_vendor, "GenuineIntel");
    assert_string_equal(in.cpu_model, "Intel(R) Xeon(R) Silver 4309Y CPU @ 2.80GHz");
}

static void test_02_x86_server_caches(void **state)
{
    plat_info in;
    describe_path(FIX "x86_server.xml", &in);
    assert_int_equal(in.n_caches, 4);
    assert_cache(&in.caches[0], 1, "data", 48 * 1024, 64, 8);
    assert_cache(&in.caches[1], 1, "instruction", 32 * 1024, 64, 8);
    assert_cache(&in.caches[2], 2, "unified", 1280 * 1024, 64, 8);
    assert_cache(&in.caches[3], 3, "unified", 12 * 1024 * 1024, 64, 1);
}

/* hwloc reports 0 cpukinds here: we make one kind of unknown efficiency. */
static void test_03_x86_server_one_unknown_kind(void **state)
{
    plat_info in;
    describe_path(FIX "x86_server.xml", &in);
    assert_int_equal(in.n_kinds, 1);
    assert_kind(&in.kinds[0], -1, 8, 16, "0-15", "");
    assert_string_equal(in.kinds[0].info, "");
}

static void test_04_x86_server_isa_memory_os(void **state)
{
    plat_info in;
    describe_path(FIX "x86_server.xml", &in);
    assert_string_equal(in.isa, "sse sse2 sse3 ssse3 sse4_1 sse4_2 avx avx2 fma f16c "
                                "avx512f avx512bw avx512vl avx512dq avx512_vnni");
    assert_string_equal(in.simd_best, "avx512f");
    assert_int_equal(in.mem_bytes, 64 * GIB);
    assert_string_equal(in.os, "Linux");
    assert_string_equal(in.kernel, "5.15.0-105-generic");
    assert_string_equal(in.governor, "unknown");
    assert_string_equal(in.boost, "unknown");
    assert_string_equal(in.thp, "unknown");
    assert_true(in.compiler[0] != '\0');
    assert_true(in.revision[0] != '\0');
    assert_true(in.dirty >= -1 && in.dirty <= 1);
    assert_true(is_hex64(in.fingerprint));
}

/* ---- Arm big.LITTLE ------------------------------------------------------------------ */

static void test_05_arm_counts(void **state)
{
    plat_info in;
    describe_path(FIX "arm_2big_4little.xml", &in);
    assert_int_equal(in.n_packages, 1);
    assert_int_equal(in.n_numa, 1);
    assert_int_equal(in.n_cores, 6);
    assert_int_equal(in.n_pus, 6);
    assert_string_equal(in.arch, "aarch64");
    assert_string_equal(in.cpu_vendor, "ARM");
}

/* Caches of one level but different sizes (little vs big cluster) stay apart. */
static void test_06_arm_caches_per_cluster(void **state)
{
    plat_info in;
    describe_path(FIX "arm_2big_4little.xml", &in);
    assert_int_equal(in.n_caches, 6);
    assert_cache(&in.caches[0], 1, "data", 32 * 1024, 64, 4);
    assert_cache(&in.caches[1], 1, "data", 64 * 1024, 64, 2);
    assert_cache(&in.caches[2], 1, "instruction", 32 * 1024, 64, 4);
    assert_cache(&in.caches[3], 1, "instruction", 64 * 1024, 64, 2);
    assert_cache(&in.caches[4], 2, "unified", 512 * 1024, 64, 1);
    assert_cache(&in.caches[5], 2, "unified", 1024 * 1024, 64, 1);
}

/* The file lists the big kind first; kinds[] must still be little first. */
static void test_07_arm_kinds_little_first(void **state)
{
    plat_info in;
    describe_path(FIX "arm_2big_4little.xml", &in);
    assert_int_equal(in.n_kinds, 2);
    assert_kind(&in.kinds[0], 0, 4, 4, "0-3", "Cortex-A55");
    assert_kind(&in.kinds[1], 1, 2, 2, "4-5", "Cortex-A76");
    assert_string_equal(in.kinds[1].info,
                        "CPUImplementer=0x41; CPUPart=0xd0b; FrequencyMaxMHz=2400");
}

static void test_08_arm_isa_memory(void **state)
{
    plat_info in;
    describe_path(FIX "arm_2big_4little.xml", &in);
    assert_string_equal(in.isa, "neon dotprod");
    assert_string_equal(in.simd_best, "neon");
    assert_int_equal(in.mem_bytes, 4 * GIB);
    assert_string_equal(in.kernel, "6.1.43-rockchip");
}

/* ---- Intel hybrid P/E ------------------------------------------------------------------ */

static void test_09_hybrid_counts(void **state)
{
    plat_info in;
    describe_path(FIX "x86_hybrid_pe.xml", &in);
    assert_int_equal(in.n_packages, 1);
    assert_int_equal(in.n_numa, 1);
    assert_int_equal(in.n_cores, 14);
    assert_int_equal(in.n_pus, 20);
    assert_string_equal(in.cpu_model, "12th Gen Intel(R) Core(TM) i7-12700H");
}

static void test_10_hybrid_caches(void **state)
{
    plat_info in;
    describe_path(FIX "x86_hybrid_pe.xml", &in);
    assert_int_equal(in.n_caches, 7);
    assert_cache(&in.caches[0], 1, "data", 32 * 1024, 64, 8);
    assert_cache(&in.caches[1], 1, "data", 48 * 1024, 64, 6);
    assert_cache(&in.caches[2], 1, "instruction", 32 * 1024, 64, 6);
    assert_cache(&in.caches[3], 1, "instruction", 64 * 1024, 64, 8);
    assert_cache(&in.caches[4], 2, "unified", 1280 * 1024, 64, 6);
    assert_cache(&in.caches[5], 2, "unified", 2048 * 1024, 64, 2);
    assert_cache(&in.caches[6], 3, "unified", 24 * 1024 * 1024, 64, 1);
}

static void test_11_hybrid_kinds_e_then_p(void **state)
{
    plat_info in;
    describe_path(FIX "x86_hybrid_pe.xml", &in);
    assert_int_equal(in.n_kinds, 2);
    assert_kind(&in.kinds[0], 0, 8, 8, "12-19", "IntelAtom");
    assert_kind(&in.kinds[1], 1, 6, 12, "0-11", "IntelCore");
    assert_non_null(strstr(in.kinds[1].info, "FrequencyMaxMHz=4700"));
}

static void test_12_hybrid_isa(void **state)
{
    plat_info in;
    describe_path(FIX "x86_hybrid_pe.xml", &in);
    assert_string_equal(in.simd_best, "avx2");
    assert_non_null(strstr(in.isa, "avx_vnni"));
    assert_int_equal(in.mem_bytes, 32 * GIB);
}

/* ---- the live machine ----------------------------------------------------------------- */

static void test_13_live_loads(void **state)
{
    cb_err err = {{0}};
    plat_topo *topo = NULL;
    assert_int_equal(plat_topo_open(NULL, &topo, &err), 0);
    assert_true(plat_topo_is_live(topo));
    assert_non_null(plat_topo_hwloc(topo));
    plat_info in;
    assert_int_equal(plat_describe(topo, &in, &err), 0);
    plat_topo_free(topo);
    assert_string_equal(in.source, "live");
    assert_true(in.n_pus >= 1);
    assert_true(in.n_kinds >= 1);
    int pus = 0;
    for (int i = 0; i < in.n_kinds; i++)
        pus += in.kinds[i].n_pus;
    assert_int_equal(pus, in.n_pus);
    assert_true(is_hex64(in.fingerprint));
    assert_true(in.arch[0] && in.os[0] && in.kernel[0] && in.governor[0] && in.boost[0]);
    assert_string_equal(in.simd_best, plat_parse_simd_best(in.isa));
    assert_true(in.mem_bytes > 0);
}

static void test_14_live_fingerprint_stable(void **state)
{
    plat_info a, b;
    describe_path(NULL, &a);
    describe_path(NULL, &b);
    assert_string_equal(a.fingerprint, b.fingerprint);
    cb_err err = {{0}};
    plat_topo *topo = NULL;
    assert_int_equal(plat_topo_open(NULL, &topo, &err), 0);
    assert_int_equal(plat_describe(topo, &a, &err), 0);
    assert_int_equal(plat_describe(topo, &b, &err), 0);
    plat_topo_free(topo);
    assert_string_equal(a.fingerprint, b.fingerprint);
}

/* ---- fingerprint ------------------------------------------------------------------------ */

static void test_15_fixture_fingerprints_stable_and_distinct(void **state)
{
    plat_info s1, s2, arm, hyb;
    describe_path(FIX "x86_server.xml", &s1);
    describe_path(FIX "x86_server.xml", &s2);
    describe_path(FIX "arm_2big_4little.xml", &arm);
    describe_path(FIX "x86_hybrid_pe.xml", &hyb);
    assert_string_equal(s1.fingerprint, s2.fingerprint);
    assert_string_not_equal(s1.fingerprint, arm.fingerprint);
    assert_string_not_equal(s1.fingerprint, hyb.fingerprint);
    assert_string_not_equal(arm.fingerprint, hyb.fingerprint);
}

/* Kernel and host name are per-run provenance: a kernel upgrade must not make
 * the machine a new platform. */
static void test_16_fingerprint_ignores_kernel_and_host(void **state)
{
    plat_info base, moved;
    describe_path(FIX "x86_server.xml", &base);
    char *text = fixture_with("x86_server.xml", "5.15.0-105-generic", "6.8.0-31-generic");
    char *text2 = strstr(text, "fixture-server");
    assert_non_null(text2);
    memcpy(text2, "fixture-other!", 14);
    char *path = temp_file(text);
    describe_path(path, &moved);
    remove_temp(path);
    free(text);
    assert_string_equal(moved.kernel, "6.8.0-31-generic");
    assert_string_equal(base.fingerprint, moved.fingerprint);
}

/* A different CPU model, ISA or memory size is a different machine. */
static void test_17_fingerprint_sees_identity(void **state)
{
    static const struct {
        const char *from, *to;
    } edits[] = {
        {"Silver 4309Y", "Silver 4310"},
        {" avx512_vnni\"", "\""},
        {"local_memory=\"68719476736\"", "local_memory=\"34359738368\""},
    };
    plat_info base, other;
    describe_path(FIX "x86_server.xml", &base);
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        char *text = fixture_with("x86_server.xml", edits[i].from, edits[i].to);
        char *path = temp_file(text);
        describe_path(path, &other);
        remove_temp(path);
        free(text);
        assert_string_not_equal(base.fingerprint, other.fingerprint);
    }
}

/* ---- errors -------------------------------------------------------------------------------- */

static void test_18_missing_file_fails(void **state)
{
    cb_err err = {{0}};
    assert_open_fails(FIX "no_such_machine.xml", "No such file", &err);
    plat_topo *topo = NULL;
    assert_int_equal(plat_topo_open(FIX "no_such_machine.xml", &topo, NULL), -1);
    assert_int_equal(plat_topo_open(FIX, &topo, &err), -1); /* a folder */
    assert_null(topo);
}

/* Regression: hwloc parses the XML when it is set, and a load after a failed
 * set silently discovers the live machine instead of failing. */
static void test_19_garbage_file_fails(void **state)
{
    cb_err err = {{0}};
    char *path = temp_file("this is not < xml at all\n");
    assert_open_fails(path, "not a valid hwloc XML topology", &err);
    remove_temp(path);

    path = temp_file("");
    assert_open_fails(path, "not a valid hwloc XML topology", &err);
    remove_temp(path);

    path = temp_file("<?xml version=\"1.0\"?>\n<topology version=\"2.0\">\n</topology>\n");
    assert_open_fails(path, NULL, &err);
    remove_temp(path);
}

static void test_20_truncated_fixture_fails(void **state)
{
    char *text = cb_read_file(FIX "x86_hybrid_pe.xml", NULL, NULL);
    assert_non_null(text);
    text[strlen(text) / 2] = '\0';
    char *path = temp_file(text);
    free(text);
    cb_err err = {{0}};
    assert_open_fails(path, "not a valid hwloc XML topology", &err);
    remove_temp(path);
}

/* ---- JSON and XML -------------------------------------------------------------------------- */

static void test_21_info_json_keys(void **state)
{
    static const char *const keys[] = {
        "source", "arch", "cpu_vendor", "cpu_model", "n_packages", "n_numa", "n_cores",
        "n_pus", "caches", "kinds", "isa", "simd_best", "mem_bytes", "os", "kernel",
        "governor", "boost", "thp", "compiler", "cflags", "revision", "dirty", "fingerprint",
    };
    plat_info in;
    describe_path(FIX "arm_2big_4little.xml", &in);
    json_t *j = plat_info_json(&in);
    assert_non_null(j);
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (!json_object_get(j, keys[i]))
            fail_msg("missing key %s", keys[i]);
    assert_int_equal(json_object_size(j), sizeof keys / sizeof keys[0]);
    assert_int_equal(json_integer_value(json_object_get(j, "n_pus")), 6);
    assert_int_equal(json_integer_value(json_object_get(j, "mem_bytes")), 4 * GIB);
    assert_string_equal(json_string_value(json_object_get(j, "fingerprint")), in.fingerprint);

    json_t *caches = json_object_get(j, "caches");
    assert_true(json_is_array(caches));
    assert_int_equal(json_array_size(caches), 6);
    json_t *l2 = json_array_get(caches, 5);
    assert_int_equal(json_integer_value(json_object_get(l2, "level")), 2);
    assert_string_equal(json_string_value(json_object_get(l2, "type")), "unified");
    assert_int_equal(json_integer_value(json_object_get(l2, "size_bytes")), 1024 * 1024);
    assert_int_equal(json_integer_value(json_object_get(l2, "line_bytes")), 64);
    assert_int_equal(json_integer_value(json_object_get(l2, "instances")), 1);

    json_t *kinds = json_object_get(j, "kinds");
    assert_int_equal(json_array_size(kinds), 2);
    json_t *big = json_array_get(kinds, 1);
    assert_int_equal(json_integer_value(json_object_get(big, "efficiency")), 1);
    assert_int_equal(json_integer_value(json_object_get(big, "n_cores")), 2);
    assert_int_equal(json_integer_value(json_object_get(big, "n_pus")), 2);
    assert_string_equal(json_string_value(json_object_get(big, "cpulist")), "4-5");
    assert_string_equal(json_string_value(json_object_get(big, "core_type")), "Cortex-A76");
    assert_non_null(json_string_value(json_object_get(big, "info")));
    json_decref(j);
}

/* A model string that is not UTF-8 still gives a JSON string. */
static void test_22_info_json_non_utf8(void **state)
{
    plat_info in;
    describe_path(FIX "x86_server.xml", &in);
    cb_strlcpy(in.cpu_model, "Xeon \xff\xfe", sizeof in.cpu_model);
    json_t *j = plat_info_json(&in);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "cpu_model")), "Xeon ??");
    json_decref(j);
}

/* Export, reload: the same machine, ISA included (it travels as CtxbenchISA). */
static void test_23_xml_round_trip(void **state)
{
    static const char *const fixtures[] = {
        FIX "x86_server.xml", FIX "arm_2big_4little.xml", FIX "x86_hybrid_pe.xml",
    };
    for (size_t i = 0; i < sizeof fixtures / sizeof fixtures[0]; i++) {
        cb_err err = {{0}};
        plat_topo *topo = NULL;
        assert_int_equal(plat_topo_open(fixtures[i], &topo, &err), 0);
        plat_info a, b;
        assert_int_equal(plat_describe(topo, &a, &err), 0);
        char *xml = plat_topo_xml(topo, &err);
        plat_topo_free(topo);
        assert_non_null(xml);
        char *path = temp_file(xml);
        free(xml);
        describe_path(path, &b);
        remove_temp(path);
        assert_string_equal(a.fingerprint, b.fingerprint);
        assert_string_equal(a.isa, b.isa);
        assert_int_equal(a.n_kinds, b.n_kinds);
    }
}

static void test_24_live_xml_carries_isa(void **state)
{
    cb_err err = {{0}};
    plat_topo *topo = NULL;
    assert_int_equal(plat_topo_open(NULL, &topo, &err), 0);
    plat_info live, back;
    assert_int_equal(plat_describe(topo, &live, &err), 0);
    char *xml = plat_topo_xml(topo, &err);
    plat_topo_free(topo);
    assert_non_null(xml);
    assert_non_null(strstr(xml, "<topology"));
    assert_non_null(strstr(xml, "CtxbenchISA"));
    char *path = temp_file(xml);
    free(xml);
    describe_path(path, &back);
    remove_temp(path);
    assert_string_equal(back.isa, live.isa);
    assert_int_equal(back.n_pus, live.n_pus);
    assert_int_equal(back.n_cores, live.n_cores);
    assert_int_equal(back.n_caches, live.n_caches);
    assert_string_equal(back.governor, "unknown");
}

static void test_25_free_null_is_noop(void **state)
{
    plat_topo_free(NULL);
}

/* ---- sysinfo parsers ----------------------------------------------------------------------- */

static const char x86_cpuinfo[] =
    "processor\t: 0\n"
    "vendor_id\t: GenuineIntel\n"
    "flags\t\t: fpu vme sse sse2 ht pni ssse3 fma sse4_1 sse4_2 avx f16c avx2 "
    "avx512f avx512dq avx512bw avx512vl avx512_vnni avx512_bf16 amx_bf16 amx_tile amx_int8 "
    "avx_vnni avx512_fp16\n"
    "vmx flags\t: vnmi preemption_timer\n"
    "bugs\t\t: spectre_v1\n\n"
    "processor\t: 1\n"
    "flags\t\t: fpu\n";

static const char arm_cpuinfo[] =
    "processor\t: 0\n"
    "BogoMIPS\t: 48.00\n"
    "Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid "
    "asimdrdm lrcpc dcpop asimddp\n"
    "CPU implementer\t: 0x41\n"
    "CPU part\t: 0xd05\n";

static void test_26_parse_isa_x86(void **state)
{
    char isa[512];
    plat_parse_isa(x86_cpuinfo, isa, sizeof isa);
    assert_string_equal(isa, "sse sse2 sse3 ssse3 sse4_1 sse4_2 avx avx2 fma f16c avx512f "
                             "avx512bw avx512vl avx512dq avx512_vnni avx512_bf16 avx512_fp16 "
                             "avx_vnni amx_tile amx_bf16 amx_int8");
    assert_string_equal(plat_parse_simd_best(isa), "avx512f");
    plat_parse_isa("processor : 0\nflags : fpu sse sse2 avx avx2\n", isa, sizeof isa);
    assert_string_equal(isa, "sse sse2 avx avx2");
    assert_string_equal(plat_parse_simd_best(isa), "avx2");
}

static void test_27_parse_isa_arm(void **state)
{
    char isa[512];
    plat_parse_isa(arm_cpuinfo, isa, sizeof isa);
    assert_string_equal(isa, "neon fp16 dotprod");
    assert_string_equal(plat_parse_simd_best(isa), "neon");
    plat_parse_isa("Features : fp asimd sve sve2 i8mm bf16\n", isa, sizeof isa);
    assert_string_equal(isa, "neon i8mm bf16 sve sve2");
    assert_string_equal(plat_parse_simd_best(isa), "sve");
}

static void test_28_parse_isa_unknown_and_scalar(void **state)
{
    char isa[512];
    plat_parse_isa("processor : 0\nisa : rv64imafdc\n", isa, sizeof isa);
    assert_string_equal(isa, "unknown");
    assert_string_equal(plat_parse_simd_best(isa), "unknown");
    plat_parse_isa(NULL, isa, sizeof isa);
    assert_string_equal(isa, "unknown");
    plat_parse_isa("flags : fpu vme\n", isa, sizeof isa);
    assert_string_equal(isa, "");
    assert_string_equal(plat_parse_simd_best(isa), "scalar");
    assert_string_equal(plat_parse_simd_best(NULL), "unknown");
    /* a word that merely starts like a feature is not that feature */
    assert_string_equal(plat_parse_simd_best("avx512fx sse2x"), "scalar");
    char tiny[9];
    plat_parse_isa(x86_cpuinfo, tiny, sizeof tiny); /* whole words only */
    assert_string_equal(tiny, "sse sse2");
}

static void test_29_parse_tunables(void **state)
{
    char out[32];
    plat_parse_bracketed("always [madvise] never\n", out, sizeof out);
    assert_string_equal(out, "madvise");
    plat_parse_bracketed("[always] madvise never", out, sizeof out);
    assert_string_equal(out, "always");
    plat_parse_bracketed("always madvise never", out, sizeof out);
    assert_string_equal(out, "unknown");
    plat_parse_bracketed(NULL, out, sizeof out);
    assert_string_equal(out, "unknown");

    assert_string_equal(plat_parse_boost("1\n", NULL), "on");
    assert_string_equal(plat_parse_boost("0\n", "0\n"), "off");
    assert_string_equal(plat_parse_boost(NULL, "1\n"), "off");
    assert_string_equal(plat_parse_boost(NULL, "0\n"), "on");
    assert_string_equal(plat_parse_boost(NULL, NULL), "unknown");
    assert_string_equal(plat_parse_boost("yes", NULL), "unknown");
}

/* Live tunables are a known word or "unknown" (this VM has no cpufreq). */
static void test_30_live_tunables(void **state)
{
    char gov[32], thp[32];
    plat_sys_governor(gov, sizeof gov);
    plat_sys_thp(thp, sizeof thp);
    assert_true(gov[0] != '\0');
    assert_true(strcmp(thp, "always") == 0 || strcmp(thp, "madvise") == 0 ||
                strcmp(thp, "never") == 0 || strcmp(thp, "unknown") == 0);
    const char *boost = plat_sys_boost();
    assert_true(strcmp(boost, "on") == 0 || strcmp(boost, "off") == 0 ||
                strcmp(boost, "unknown") == 0);
    assert_true(plat_sys_mem_bytes() > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_01_x86_server_counts),
        cmocka_unit_test(test_02_x86_server_caches),
        cmocka_unit_test(test_03_x86_server_one_unknown_kind),
        cmocka_unit_test(test_04_x86_server_isa_memory_os),
        cmocka_unit_test(test_05_arm_counts),
        cmocka_unit_test(test_06_arm_caches_per_cluster),
        cmocka_unit_test(test_07_arm_kinds_little_first),
        cmocka_unit_test(test_08_arm_isa_memory),
        cmocka_unit_test(test_09_hybrid_counts),
        cmocka_unit_test(test_10_hybrid_caches),
        cmocka_unit_test(test_11_hybrid_kinds_e_then_p),
        cmocka_unit_test(test_12_hybrid_isa),
        cmocka_unit_test(test_13_live_loads),
        cmocka_unit_test(test_14_live_fingerprint_stable),
        cmocka_unit_test(test_15_fixture_fingerprints_stable_and_distinct),
        cmocka_unit_test(test_16_fingerprint_ignores_kernel_and_host),
        cmocka_unit_test(test_17_fingerprint_sees_identity),
        cmocka_unit_test(test_18_missing_file_fails),
        cmocka_unit_test(test_19_garbage_file_fails),
        cmocka_unit_test(test_20_truncated_fixture_fails),
        cmocka_unit_test(test_21_info_json_keys),
        cmocka_unit_test(test_22_info_json_non_utf8),
        cmocka_unit_test(test_23_xml_round_trip),
        cmocka_unit_test(test_24_live_xml_carries_isa),
        cmocka_unit_test(test_25_free_null_is_noop),
        cmocka_unit_test(test_26_parse_isa_x86),
        cmocka_unit_test(test_27_parse_isa_arm),
        cmocka_unit_test(test_28_parse_isa_unknown_and_scalar),
        cmocka_unit_test(test_29_parse_tunables),
        cmocka_unit_test(test_30_live_tunables),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
