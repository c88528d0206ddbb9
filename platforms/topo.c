/* platforms/topo.c — the hwloc topology of a machine and the platform record
 * built from it (see topo.h).
 *
 * A plat_topo is opened either live (hwloc discovers this machine) or from an
 * hwloc XML file.  plat_describe() reads the same things from both: counts,
 * caches grouped by (level, type, size, line), cpukinds, CPU vendor/model and
 * arch; the rest comes from the running system for a live topology
 * (sysinfo.c) and from Machine infos of the XML otherwise ("CtxbenchISA",
 * "OSName", "OSRelease"), "unknown" when absent.
 *
 * The fingerprint hashes a canonical text of the machine's identity only; it
 * must stay stable across runs on one machine, so nothing per-run (kernel,
 * tunables, build, host name) may ever enter canon_identity().
 *
 * Never: no measurement, no SQL, no printing, no exit(); the only file besides
 * the tests that calls hwloc's topology-loading functions. */
#include "platforms/topo.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "platforms/sysinfo.h"
#include "util/buildinfo.h"
#include "util/text.h"

/* The Machine info carrying the ISA features in an XML description; the live
 * topology gets it too, so that an exported XML keeps its ISA. */
#define PLAT_ISA_INFO "CtxbenchISA"

struct plat_topo {
    hwloc_topology_t h;
    int live;
    char source[sizeof ((plat_info *)0)->source]; /* "live" or the XML path */
};

/* ---- opening ------------------------------------------------------------ */

/* A fresh hwloc topology that keeps instruction caches (hwloc drops them by
 * default) and no I/O devices.  Returns 0, or -1 with err. */
static int new_hwloc(hwloc_topology_t *h, cb_err *err)
{
    if (hwloc_topology_init(h) < 0)
        return cb_fail(err, "hwloc: cannot create a topology: %s", strerror(errno));
    hwloc_topology_set_icache_types_filter(*h, HWLOC_TYPE_FILTER_KEEP_ALL);
    hwloc_topology_set_io_types_filter(*h, HWLOC_TYPE_FILTER_KEEP_NONE);
    return 0;
}

/* Loads xml_path into h (not yet loaded).  hwloc parses the file as soon as it
 * is set, and a later load without a valid XML would discover the live machine
 * instead, so both steps are checked. */
static int load_xml(hwloc_topology_t h, const char *xml_path, cb_err *err)
{
    struct stat st;
    if (stat(xml_path, &st) != 0)
        return cb_fail(err, "%s: cannot open: %s", xml_path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return cb_fail(err, "%s: not a regular file", xml_path);
    if (hwloc_topology_set_xml(h, xml_path) < 0 || hwloc_topology_load(h) < 0)
        return cb_fail(err, "%s: not a valid hwloc XML topology", xml_path);
    return 0;
}

static int load_live(hwloc_topology_t h, cb_err *err)
{
    if (hwloc_topology_load(h) < 0)
        return cb_fail(err, "hwloc: cannot discover this machine: %s", strerror(errno));
    char isa[sizeof ((plat_info *)0)->isa];
    plat_sys_isa(isa, sizeof isa);
    if (hwloc_obj_add_info(hwloc_get_root_obj(h), PLAT_ISA_INFO, isa) < 0)
        return cb_fail(err, "hwloc: cannot record the ISA: %s", strerror(errno));
    return 0;
}

int plat_topo_open(const char *xml_path, plat_topo **out, cb_err *err)
{
    *out = NULL;
    plat_topo *topo = calloc(1, sizeof *topo);
    if (!topo)
        return cb_fail(err, "topology: out of memory");
    if (new_hwloc(&topo->h, err) < 0) {
        free(topo);
        return -1;
    }
    topo->live = xml_path == NULL;
    cb_strlcpy(topo->source, xml_path ? xml_path : "live", sizeof topo->source);
    int rc = xml_path ? load_xml(topo->h, xml_path, err) : load_live(topo->h, err);
    if (rc == 0 && hwloc_get_nbobjs_by_type(topo->h, HWLOC_OBJ_PU) < 1)
        rc = cb_fail(err, "%s: the topology has no processing unit",
                     xml_path ? xml_path : "live machine");
    if (rc < 0) {
        plat_topo_free(topo);
        return -1;
    }
    *out = topo;
    return 0;
}

void plat_topo_free(plat_topo *topo)
{
    if (!topo)
        return;
    hwloc_topology_destroy(topo->h);
    free(topo);
}

hwloc_topology_t plat_topo_hwloc(const plat_topo *topo)
{
    return topo->h;
}

int plat_topo_is_live(const plat_topo *topo)
{
    return topo->live;
}

/* ---- identity and counts ---------------------------------------------------- */

/* The value of info name on obj, or NULL (obj may be NULL). */
static const char *info_of(hwloc_obj_t obj, const char *name)
{
    return obj ? hwloc_obj_get_info_by_name(obj, name) : NULL;
}

/* Copies the info from the first Package, else the Machine, else "unknown". */
static void copy_cpu_info(hwloc_topology_t h, const char *name, char *out, size_t size)
{
    const char *v = info_of(hwloc_get_obj_by_type(h, HWLOC_OBJ_PACKAGE, 0), name);
    if (!v)
        v = info_of(hwloc_get_root_obj(h), name);
    cb_strlcpy(out, v && *v ? v : PLAT_UNKNOWN, size);
}

static int count_of(hwloc_topology_t h, hwloc_obj_type_t type)
{
    int n = hwloc_get_nbobjs_by_type(h, type);
    return n < 0 ? 0 : n;
}

static void describe_counts(hwloc_topology_t h, plat_info *out)
{
    out->n_packages = count_of(h, HWLOC_OBJ_PACKAGE);
    out->n_numa = count_of(h, HWLOC_OBJ_NUMANODE);
    out->n_cores = count_of(h, HWLOC_OBJ_CORE);
    out->n_pus = count_of(h, HWLOC_OBJ_PU);
    copy_cpu_info(h, "CPUVendor", out->cpu_vendor, sizeof out->cpu_vendor);
    copy_cpu_info(h, "CPUModel", out->cpu_model, sizeof out->cpu_model);
}

/* ---- caches ------------------------------------------------------------------- */

static const char *cache_type_name(hwloc_obj_cache_type_t type)
{
    switch (type) {
    case HWLOC_OBJ_CACHE_DATA:
        return "data";
    case HWLOC_OBJ_CACHE_INSTRUCTION:
        return "instruction";
    default:
        return "unified";
    }
}

/* Counts obj into the entry with its level, type, size and line, adding the
 * entry when it is new.  Returns 0, or -1 when the table is full. */
static int add_cache(plat_info *out, hwloc_obj_t obj)
{
    const struct hwloc_cache_attr_s *a = &obj->attr->cache;
    const char *type = cache_type_name(a->type);
    for (int i = 0; i < out->n_caches; i++) {
        plat_cache *c = &out->caches[i];
        if (c->level == (int)a->depth && strcmp(c->type, type) == 0 &&
            c->size_bytes == a->size && c->line_bytes == (int)a->linesize) {
            c->instances++;
            return 0;
        }
    }
    if (out->n_caches == PLAT_MAX_CACHES)
        return -1;
    plat_cache *c = &out->caches[out->n_caches++];
    c->level = (int)a->depth;
    cb_strlcpy(c->type, type, sizeof c->type);
    c->size_bytes = a->size;
    c->line_bytes = (int)a->linesize;
    c->instances = 1;
    return 0;
}

/* Orders caches by level, then data < instruction < unified, then size. */
static int cache_cmp(const void *pa, const void *pb)
{
    const plat_cache *a = pa, *b = pb;
    if (a->level != b->level)
        return a->level < b->level ? -1 : 1;
    int t = strcmp(a->type, b->type); /* "data" < "instruction" < "unified" */
    if (t)
        return t;
    if (a->size_bytes != b->size_bytes)
        return a->size_bytes < b->size_bytes ? -1 : 1;
    return a->line_bytes - b->line_bytes;
}

static int describe_caches(hwloc_topology_t h, plat_info *out, cb_err *err)
{
    for (int t = HWLOC_OBJ_TYPE_MIN; t < HWLOC_OBJ_TYPE_MAX; t++) {
        if (!hwloc_obj_type_is_cache((hwloc_obj_type_t)t))
            continue;
        hwloc_obj_t obj = NULL;
        while ((obj = hwloc_get_next_obj_by_type(h, (hwloc_obj_type_t)t, obj)))
            if (add_cache(out, obj) < 0)
                return cb_fail(err, "topology: more than %d distinct caches", PLAT_MAX_CACHES);
    }
    qsort(out->caches, (size_t)out->n_caches, sizeof out->caches[0], cache_cmp);
    return 0;
}

/* ---- cpukinds ----------------------------------------------------------------- */

/* Cortex names of the Arm Ltd (implementer 0x41) parts we expect to meet;
 * other parts are named by number. */
static const struct {
    unsigned part;
    const char *name;
} arm_parts[] = {
    {0xd03, "Cortex-A53"}, {0xd04, "Cortex-A35"}, {0xd05, "Cortex-A55"},
    {0xd07, "Cortex-A57"}, {0xd08, "Cortex-A72"}, {0xd09, "Cortex-A73"},
    {0xd0a, "Cortex-A75"}, {0xd0b, "Cortex-A76"}, {0xd0c, "Neoverse-N1"},
    {0xd0d, "Cortex-A77"}, {0xd40, "Neoverse-V1"}, {0xd41, "Cortex-A78"},
    {0xd44, "Cortex-X1"},  {0xd46, "Cortex-A510"}, {0xd47, "Cortex-A710"},
    {0xd48, "Cortex-X2"},  {0xd49, "Neoverse-N2"}, {0xd4d, "Cortex-A715"},
    {0xd4e, "Cortex-X3"},  {0xd4f, "Neoverse-V2"}, {0xd80, "Cortex-A520"},
    {0xd81, "Cortex-A720"}, {0xd82, "Cortex-X4"},
};

/* The core type of a kind: hwloc's CoreType (IntelCore, IntelAtom), else the
 * Arm part ("Cortex-A76", or "ARM part 0xd0b" for a part not in the table),
 * else "". */
static void kind_core_type(const struct hwloc_info_s *infos, unsigned n, char *out, size_t size)
{
    const char *part = NULL, *implementer = NULL;
    out[0] = '\0';
    for (unsigned i = 0; i < n; i++) {
        if (strcmp(infos[i].name, "CoreType") == 0) {
            cb_strlcpy(out, infos[i].value, size);
            return;
        }
        if (strcmp(infos[i].name, "CPUPart") == 0)
            part = infos[i].value;
        if (strcmp(infos[i].name, "CPUImplementer") == 0)
            implementer = infos[i].value;
    }
    if (!part)
        return;
    unsigned num = (unsigned)strtoul(part, NULL, 0);
    int arm_ltd = !implementer || strtoul(implementer, NULL, 0) == 0x41;
    for (size_t i = 0; arm_ltd && i < sizeof arm_parts / sizeof arm_parts[0]; i++)
        if (arm_parts[i].part == num) {
            cb_strlcpy(out, arm_parts[i].name, size);
            return;
        }
    snprintf(out, size, "ARM part %s", part);
}

/* "Name=Value; Name=Value" of all infos, truncated to size. */
static void kind_infos(const struct hwloc_info_s *infos, unsigned n, char *out, size_t size)
{
    size_t len = 0;
    out[0] = '\0';
    for (unsigned i = 0; i < n && len + 1 < size; i++) {
        int w = snprintf(out + len, size - len, "%s%s=%s", i ? "; " : "",
                         infos[i].name, infos[i].value);
        if (w < 0)
            break;
        len += (size_t)w;
    }
}

/* Fills kind's counts and cpulist from its cpuset. */
static void kind_fill(hwloc_topology_t h, hwloc_const_cpuset_t set, int efficiency, plat_kind *k)
{
    k->efficiency = efficiency < 0 ? -1 : efficiency;
    k->n_cores = hwloc_get_nbobjs_inside_cpuset_by_type(h, set, HWLOC_OBJ_CORE);
    k->n_pus = hwloc_get_nbobjs_inside_cpuset_by_type(h, set, HWLOC_OBJ_PU);
    if (hwloc_bitmap_list_snprintf(k->cpulist, sizeof k->cpulist, set) < 0)
        k->cpulist[0] = '\0';
}

/* Sorts kinds least performant first; stable, unknown (-1) first. */
static void sort_kinds(plat_info *out)
{
    for (int i = 1; i < out->n_kinds; i++) {
        plat_kind k = out->kinds[i];
        int j = i;
        for (; j > 0 && out->kinds[j - 1].efficiency > k.efficiency; j--)
            out->kinds[j] = out->kinds[j - 1];
        out->kinds[j] = k;
    }
}

static int describe_kinds(hwloc_topology_t h, plat_info *out, cb_err *err)
{
    int nr = hwloc_cpukinds_get_nr(h, 0);
    if (nr > PLAT_MAX_KINDS)
        return cb_fail(err, "topology: %d cpu kinds, more than %d", nr, PLAT_MAX_KINDS);
    if (nr <= 0) { /* hwloc knows nothing: one kind of unknown efficiency */
        out->n_kinds = 1;
        kind_fill(h, hwloc_topology_get_topology_cpuset(h), -1, &out->kinds[0]);
        return 0;
    }
    hwloc_bitmap_t set = hwloc_bitmap_alloc();
    if (!set)
        return cb_fail(err, "topology: out of memory");
    int rc = 0;
    for (int i = 0; i < nr && rc == 0; i++) {
        int efficiency = -1;
        unsigned n_infos = 0;
        struct hwloc_info_s *infos = NULL;
        if (hwloc_cpukinds_get_info(h, (unsigned)i, set, &efficiency, &n_infos, &infos, 0) < 0) {
            rc = cb_fail(err, "hwloc: cannot read cpu kind %d: %s", i, strerror(errno));
            break;
        }
        plat_kind *k = &out->kinds[out->n_kinds++];
        kind_fill(h, set, efficiency, k);
        kind_core_type(infos, n_infos, k->core_type, sizeof k->core_type);
        kind_infos(infos, n_infos, k->info, sizeof k->info);
    }
    hwloc_bitmap_free(set);
    sort_kinds(out);
    return rc;
}

/* ---- where the rest comes from: the system, or the XML ------------------------------ */

static void describe_live(plat_info *out)
{
    char arch[sizeof out->arch];
    plat_sys_uname(out->os, sizeof out->os, out->kernel, sizeof out->kernel, arch, sizeof arch);
    if (strcmp(out->arch, PLAT_UNKNOWN) == 0)
        cb_strlcpy(out->arch, arch, sizeof out->arch);
    plat_sys_isa(out->isa, sizeof out->isa);
    out->mem_bytes = plat_sys_mem_bytes();
    plat_sys_governor(out->governor, sizeof out->governor);
    cb_strlcpy(out->boost, plat_sys_boost(), sizeof out->boost);
    plat_sys_thp(out->thp, sizeof out->thp);
}

static void copy_root_info(hwloc_topology_t h, const char *name, char *out, size_t size)
{
    const char *v = info_of(hwloc_get_root_obj(h), name);
    cb_strlcpy(out, v && *v ? v : PLAT_UNKNOWN, size);
}

static void describe_xml(hwloc_topology_t h, plat_info *out)
{
    copy_root_info(h, PLAT_ISA_INFO, out->isa, sizeof out->isa);
    copy_root_info(h, "OSName", out->os, sizeof out->os);
    copy_root_info(h, "OSRelease", out->kernel, sizeof out->kernel);
    hwloc_obj_t node = NULL;
    while ((node = hwloc_get_next_obj_by_type(h, HWLOC_OBJ_NUMANODE, node)))
        out->mem_bytes += node->attr->numanode.local_memory;
    cb_strlcpy(out->governor, PLAT_UNKNOWN, sizeof out->governor);
    cb_strlcpy(out->boost, PLAT_UNKNOWN, sizeof out->boost);
    cb_strlcpy(out->thp, PLAT_UNKNOWN, sizeof out->thp);
}

static void describe_build(plat_info *out)
{
    cb_strlcpy(out->compiler, cb_compiler(), sizeof out->compiler);
    cb_strlcpy(out->cflags, cb_cflags(), sizeof out->cflags);
    cb_strlcpy(out->revision, cb_source_revision(), sizeof out->revision);
    out->dirty = cb_source_dirty();
}

/* ---- fingerprint -------------------------------------------------------------------- */

/* A growing text in a fixed buffer; the fields it is built from are bounded
 * well below its size (see canon_identity). */
typedef struct canon {
    char text[16384];
    size_t len;
} canon;

static void canon_add(canon *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void canon_add(canon *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(c->text + c->len, sizeof c->text - c->len, fmt, ap);
    va_end(ap);
    if (w > 0)
        c->len += (size_t)w < sizeof c->text - c->len ? (size_t)w : sizeof c->text - c->len - 1;
}

/* The identity of the machine, one fact a line.  Memory counts in whole GiB
 * (rounded) so that a few MiB of firmware reservation do not change it. */
static void canon_identity(const plat_info *in, canon *c)
{
    const uint64_t gib = UINT64_C(1) << 30;
    c->len = 0;
    c->text[0] = '\0';
    canon_add(c, "ctxbench-platform 1\narch %s\nvendor %s\nmodel %s\n",
              in->arch, in->cpu_vendor, in->cpu_model);
    canon_add(c, "packages %d numa %d cores %d pus %d\n",
              in->n_packages, in->n_numa, in->n_cores, in->n_pus);
    for (int i = 0; i < in->n_caches; i++) {
        const plat_cache *k = &in->caches[i];
        canon_add(c, "cache L%d %s size %llu line %d x%d\n", k->level, k->type,
                  (unsigned long long)k->size_bytes, k->line_bytes, k->instances);
    }
    for (int i = 0; i < in->n_kinds; i++) {
        const plat_kind *k = &in->kinds[i];
        canon_add(c, "kind %d cpus %s type %s\n", k->efficiency, k->cpulist, k->core_type);
    }
    canon_add(c, "isa %s\nmem_gib %llu\nos %s\n", in->isa,
              (unsigned long long)((in->mem_bytes + gib / 2) / gib), in->os);
}

int plat_describe(const plat_topo *topo, plat_info *out, cb_err *err)
{
    hwloc_topology_t h = topo->h;
    memset(out, 0, sizeof *out);
    cb_strlcpy(out->source, topo->source, sizeof out->source);
    describe_counts(h, out);
    copy_root_info(h, "Architecture", out->arch, sizeof out->arch);
    if (describe_caches(h, out, err) < 0 || describe_kinds(h, out, err) < 0)
        return -1;
    if (topo->live)
        describe_live(out);
    else
        describe_xml(h, out);
    cb_strlcpy(out->simd_best, plat_parse_simd_best(out->isa), sizeof out->simd_best);
    describe_build(out);
    canon c;
    canon_identity(out, &c);
    cb_sha256_hex(c.text, c.len, out->fingerprint);
    return 0;
}

/* ---- JSON and XML ----------------------------------------------------------------------- */

/* A JSON string of s; bytes that are not valid UTF-8 (an odd CPU model from
 * firmware) are replaced by '?'.  NULL only when out of memory. */
static json_t *json_text(const char *s)
{
    json_t *j = json_string(s);
    if (j)
        return j;
    char *copy = strdup(s);
    if (!copy)
        return NULL;
    for (char *p = copy; *p; p++)
        if ((unsigned char)*p >= 0x80)
            *p = '?';
    j = json_string(copy);
    free(copy);
    return j;
}

static json_t *caches_json(const plat_info *in)
{
    json_t *arr = json_array();
    for (int i = 0; arr && i < in->n_caches; i++) {
        const plat_cache *c = &in->caches[i];
        json_t *o = json_pack("{s:i, s:s, s:I, s:i, s:i}", "level", c->level, "type", c->type,
                              "size_bytes", (json_int_t)c->size_bytes, "line_bytes", c->line_bytes,
                              "instances", c->instances);
        if (json_array_append_new(arr, o) < 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

static json_t *kinds_json(const plat_info *in)
{
    json_t *arr = json_array();
    for (int i = 0; arr && i < in->n_kinds; i++) {
        const plat_kind *k = &in->kinds[i];
        json_t *o = json_pack("{s:i, s:i, s:i, s:s, s:o, s:o}", "efficiency", k->efficiency,
                              "n_cores", k->n_cores, "n_pus", k->n_pus, "cpulist", k->cpulist,
                              "core_type", json_text(k->core_type), "info", json_text(k->info));
        if (json_array_append_new(arr, o) < 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

/* Sets key to the new reference v; a NULL v (out of memory) marks *ok 0. */
static void put(json_t *obj, const char *key, json_t *v, int *ok)
{
    if (json_object_set_new(obj, key, v) < 0)
        *ok = 0;
}

json_t *plat_info_json(const plat_info *in)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    int ok = 1;
    put(o, "source", json_text(in->source), &ok);
    put(o, "arch", json_text(in->arch), &ok);
    put(o, "cpu_vendor", json_text(in->cpu_vendor), &ok);
    put(o, "cpu_model", json_text(in->cpu_model), &ok);
    put(o, "n_packages", json_integer(in->n_packages), &ok);
    put(o, "n_numa", json_integer(in->n_numa), &ok);
    put(o, "n_cores", json_integer(in->n_cores), &ok);
    put(o, "n_pus", json_integer(in->n_pus), &ok);
    put(o, "caches", caches_json(in), &ok);
    put(o, "kinds", kinds_json(in), &ok);
    put(o, "isa", json_text(in->isa), &ok);
    put(o, "simd_best", json_text(in->simd_best), &ok);
    put(o, "mem_bytes", json_integer((json_int_t)in->mem_bytes), &ok);
    put(o, "os", json_text(in->os), &ok);
    put(o, "kernel", json_text(in->kernel), &ok);
    put(o, "governor", json_text(in->governor), &ok);
    put(o, "boost", json_text(in->boost), &ok);
    put(o, "thp", json_text(in->thp), &ok);
    put(o, "compiler", json_text(in->compiler), &ok);
    put(o, "cflags", json_text(in->cflags), &ok);
    put(o, "revision", json_text(in->revision), &ok);
    put(o, "dirty", json_integer(in->dirty), &ok);
    put(o, "fingerprint", json_text(in->fingerprint), &ok);
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

char *plat_topo_xml(const plat_topo *topo, cb_err *err)
{
    char *buf = NULL;
    int len = 0;
    if (hwloc_topology_export_xmlbuffer(topo->h, &buf, &len, 0) < 0) {
        cb_fail(err, "%s: cannot export the topology as XML: %s", topo->source, strerror(errno));
        return NULL;
    }
    char *copy = strdup(buf);
    hwloc_free_xmlbuffer(topo->h, buf);
    if (!copy)
        cb_fail(err, "%s: out of memory exporting the topology", topo->source);
    return copy;
}
