/* platforms/topo.h — what the machine is: hwloc topology and the platform record.
 *
 * A plat_topo wraps an hwloc topology, either of the live machine or loaded from
 * an hwloc XML file (a fixture, or a machine you are not on).  plat_describe()
 * turns it into a plat_info: the counts, caches, cpukinds, ISA, memory, OS and
 * tunables that every run records, plus a fingerprint that identifies the
 * machine across runs and databases.
 *
 * Never: no measurement here (probes live in probe.h), no SQL. */
#ifndef CTXBENCH_PLATFORMS_TOPO_H
#define CTXBENCH_PLATFORMS_TOPO_H

#include <stdint.h>

#include <hwloc.h>
#include <jansson.h>

#include "util/error.h"
#include "util/hash.h"

#define PLAT_MAX_CACHES 16
#define PLAT_MAX_KINDS 8

typedef struct plat_topo plat_topo;

/* One cache level and type, e.g. L2 unified: 2 instances of 1 MiB each. */
typedef struct plat_cache {
    int level;           /* 1, 2, 3, ... */
    char type[16];       /* "data", "instruction" or "unified" */
    uint64_t size_bytes; /* size of one instance */
    int line_bytes;      /* 0 when unknown */
    int instances;       /* how many of them in the machine */
} plat_cache;

/* One kind of core (hwloc cpukind): all cores of a big.LITTLE cluster, P or E cores. */
typedef struct plat_kind {
    int efficiency;      /* hwloc efficiency rank: 0 = least performant; -1 unknown */
    int n_cores;         /* cores of this kind */
    int n_pus;           /* hardware threads of this kind */
    char cpulist[128];   /* OS indices of its PUs, e.g. "0-3" */
    char core_type[64];  /* hwloc CoreType / ARM part, or "" */
    char info[256];      /* all hwloc infos of the kind, "Name=Value; ..." */
} plat_kind;

typedef struct plat_info {
    char source[256];    /* "live" or the XML file it was read from */
    char arch[32];       /* x86_64, aarch64, ... */
    char cpu_vendor[64];
    char cpu_model[128];
    int n_packages, n_numa, n_cores, n_pus;
    plat_cache caches[PLAT_MAX_CACHES];
    int n_caches;
    plat_kind kinds[PLAT_MAX_KINDS]; /* sorted by efficiency, least performant first */
    int n_kinds;         /* 1 on a homogeneous machine (hwloc may report 0 kinds: we make one) */
    char isa[512];       /* space-separated features present, e.g. "sse4_2 avx2 fma avx512f" */
    char simd_best[32];  /* widest vector ISA present: "avx512f", "avx2", "neon", "sve", "scalar" */
    uint64_t mem_bytes;  /* total memory, 0 when unknown */
    char os[64];         /* "Linux" */
    char kernel[128];    /* release, e.g. "6.1.0-18-amd64" */
    char governor[32];   /* cpufreq governor or "unknown" */
    char boost[32];      /* "on", "off" or "unknown" */
    char thp[32];        /* transparent huge pages mode or "unknown" */
    char compiler[128];  /* this build's compiler */
    char cflags[256];    /* this build's optimisation flags */
    char revision[64];   /* this build's source revision */
    int dirty;           /* 1, 0, or -1 unknown */
    char fingerprint[CB_SHA256_HEX_LEN]; /* identity of the machine (not of the build) */
} plat_info;

/* Loads the live topology (xml_path NULL) or the one described in an hwloc XML
 * file.  Returns 0 and a topology the caller frees with plat_topo_free(), or -1
 * with err naming the file. */
int plat_topo_open(const char *xml_path, plat_topo **out, cb_err *err);
void plat_topo_free(plat_topo *topo); /* NULL is a no-op */

/* The underlying hwloc topology (owned by topo; valid until plat_topo_free). */
hwloc_topology_t plat_topo_hwloc(const plat_topo *topo);

/* 1 if the topology is the live machine (binding and probing make sense). */
int plat_topo_is_live(const plat_topo *topo);

/* Fills out from the topology; for the live machine also reads ISA, memory,
 * OS and tunables from the system; for an XML description takes what the XML
 * holds and records the rest as "unknown".  Returns 0, or -1 with err. */
int plat_describe(const plat_topo *topo, plat_info *out, cb_err *err);

/* The platform record as a JSON object (caller owns the reference). */
json_t *plat_info_json(const plat_info *info);

/* The hwloc XML of the topology as a heap string (caller frees), or NULL with err. */
char *plat_topo_xml(const plat_topo *topo, cb_err *err);

#endif
