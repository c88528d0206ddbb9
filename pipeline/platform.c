/* pipeline/platform.c — `ctxbench platform`: describe the machine (or an hwloc
 * XML description of another), record it in the database, and with --probe
 * measure its roofline (STREAM triad bandwidth and peak FMA throughput at
 * 1..N threads) as a run of the built-in "platform-probe" experiment, whose
 * figures land in the platform record. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "pipeline/cli.h"
#include "pipeline/stage.h"
#include "reports/report.h"

static const char platform_usage[] =
    "usage: ctxbench platform [--json] [--xml FILE] [--probe [--if-missing]] [--db PATH]\n"
    "\n"
    "Prints this machine's topology, core kinds, caches, ISA, memory, OS, tunables\n"
    "and build provenance, and records the platform in the database.\n"
    "  --json        the same as JSON\n"
    "  --xml FILE    describe the machine in an hwloc XML file instead (not recorded)\n"
    "  --probe       measure the roofline at 1..N threads and store it\n"
    "  --if-missing  with --probe: skip when the database already has this platform's figures\n";

/* The probe experiment behind --probe (the same runner as experiments/roofline.ini). */
static const char platform_probe_ini[] =
    "[experiment]\n"
    "name = platform-probe\n"
    "title = Roofline probes recorded with the platform\n"
    "runner = roofline\n"
    "repetitions = 10\n"
    "min_time = 0.3\n"
    "[sweep]\n"
    "probe = triad, fma\n"
    "threads = 1..ncores\n";

typedef struct platform_opts {
    const char *xml;
    const char *db;
    int json, probe, if_missing;
} platform_opts;

static int platform_parse(int argc, char **argv, platform_opts *o)
{
    static const struct option longopts[] = {
        {"xml", required_argument, NULL, 'x'}, {"db", required_argument, NULL, 'd'},
        {"json", no_argument, NULL, 'j'},      {"probe", no_argument, NULL, 'p'},
        {"if-missing", no_argument, NULL, 'm'}, {NULL, 0, NULL, 0},
    };
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'x': o->xml = optarg; break;
        case 'd': o->db = optarg; break;
        case 'j': o->json = 1; break;
        case 'p': o->probe = 1; break;
        case 'm': o->if_missing = 1; break;
        default: return cli_error("platform: unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc)
        return cli_error("platform: unexpected argument '%s'", argv[optind]);
    if (o->probe && o->xml)
        return cli_error("platform: --probe measures this machine; it cannot be used with --xml");
    if (o->if_missing && !o->probe)
        return cli_error("platform: --if-missing goes with --probe");
    return 0;
}

static void platform_print_size(uint64_t bytes)
{
    if (bytes >= (1ull << 30) && bytes % (1ull << 30) == 0)
        printf("%llu GiB", (unsigned long long)(bytes >> 30));
    else if (bytes >= (1ull << 20) && bytes % (1ull << 20) == 0)
        printf("%llu MiB", (unsigned long long)(bytes >> 20));
    else if (bytes >= (1ull << 20))
        printf("%.1f MiB", bytes / 1048576.0);
    else
        printf("%llu KiB", (unsigned long long)(bytes >> 10));
}

static void platform_print(const plat_info *p)
{
    printf("platform   %.16s (%s)\n", p->fingerprint, p->source);
    printf("cpu        %s %s, %s\n", p->cpu_vendor, p->cpu_model, p->arch);
    printf("topology   %d package(s), %d NUMA node(s), %d cores, %d PUs\n", p->n_packages, p->n_numa,
           p->n_cores, p->n_pus);
    for (int i = 0; i < p->n_kinds; i++)
        printf("kind %d     efficiency %d, %d cores / %d PUs (cpus %s)%s%s\n", i, p->kinds[i].efficiency,
               p->kinds[i].n_cores, p->kinds[i].n_pus, p->kinds[i].cpulist,
               p->kinds[i].core_type[0] ? ", " : "", p->kinds[i].core_type);
    printf("caches    ");
    for (int i = 0; i < p->n_caches; i++) {
        printf(" L%d%s ", p->caches[i].level, strcmp(p->caches[i].type, "data") == 0 ? "d"
                                               : strcmp(p->caches[i].type, "instruction") == 0 ? "i" : "");
        platform_print_size(p->caches[i].size_bytes);
        printf(" x%d%s", p->caches[i].instances, i + 1 < p->n_caches ? "," : "\n");
    }
    if (p->n_caches == 0)
        printf(" unknown\n");
    printf("isa        %s (widest: %s)\n", p->isa, p->simd_best);
    printf("memory     ");
    if (p->mem_bytes)
        printf("%.1f GiB\n", p->mem_bytes / 1073741824.0);
    else
        printf("unknown\n");
    printf("os         %s %s\n", p->os, p->kernel);
    printf("tunables   governor %s, boost %s, transparent huge pages %s\n", p->governor, p->boost, p->thp);
    printf("build      %s, %s, revision %.12s%s\n", p->compiler, p->cflags, p->revision,
           p->dirty == 1 ? " (dirty)" : p->dirty < 0 ? " (unknown)" : "");
}

/* Prints the latest probe figure of each kind and thread count. */
static void platform_print_probes(const json_t *platform)
{
    json_t *probes = report_latest_probes(platform);
    if (json_array_size(probes) == 0)
        printf("roofline   not measured yet (ctxbench platform --probe)\n");
    size_t i;
    json_t *p;
    json_array_foreach(probes, i, p) {
        const char *kind = json_string_value(json_object_get(p, "kind"));
        printf("roofline   %-10s %2lld thread(s): %8.2f %s (measured %s)\n", kind,
               json_integer_value(json_object_get(p, "threads")),
               json_number_value(json_object_get(p, "value")),
               kind && strstr(kind, "gbps") ? "GB/s" : "GFLOP/s",
               json_string_value(json_object_get(p, "measured_at")));
    }
    json_decref(probes);
}

static int platform_probe(stage_machine *m, int if_missing)
{
    cb_err err = {{0}};
    double gbps = 0, gflops = 0;
    if (store_platform_peaks(m->store, m->platform_id, &gbps, &gflops, &err) != 0)
        return cli_fail(&err);
    if (if_missing && gbps > 0 && gflops > 0)
        return 0;
    exp_spec *spec = NULL;
    if (exp_spec_from_text("(built-in platform-probe)", platform_probe_ini, "quick",
                           m->info.n_cores, &spec, &err) != 0)
        return cli_fail(&err);
    int rc = stage_run_spec(m, spec, 1);
    exp_spec_free(spec);
    return rc;
}

int cmd_platform(int argc, char **argv)
{
    if (cli_wants_help(argc, argv, platform_usage))
        return 0;
    platform_opts o = {0};
    if (platform_parse(argc, argv, &o) != 0)
        return 2;
    cb_err err = {{0}};
    stage_machine m;
    int rc = 0;
    json_t *stored = NULL;
    if (stage_machine_open(&m, o.xml, 0, &err) != 0) {
        rc = cli_fail(&err);
        goto done;
    }
    if (!o.xml) {
        if (stage_machine_attach(&m, cli_db_path(o.db), &err) != 0) {
            rc = cli_fail(&err);
            goto done;
        }
        if (o.probe && (rc = platform_probe(&m, o.if_missing)) != 0)
            goto done;
        if (!(stored = store_platform_json(m.store, m.platform_id, &err))) {
            rc = cli_fail(&err);
            goto done;
        }
    }
    if (o.json) {
        json_t *obj = plat_info_json(&m.info);
        if (stored)
            json_object_set(obj, "probes", json_object_get(stored, "probes"));
        rc = cli_print_json(obj);
        json_decref(obj);
    } else {
        platform_print(&m.info);
        if (stored)
            platform_print_probes(stored);
    }
done:
    json_decref(stored);
    stage_machine_close(&m);
    return rc;
}
