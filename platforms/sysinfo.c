/* platforms/sysinfo.c — the live system outside hwloc: ISA features from
 * /proc/cpuinfo, memory, uname and the cpufreq/THP tunables (see sysinfo.h).
 *
 * The plat_parse_* functions are pure text-to-value functions; the plat_sys_*
 * functions only read files and call them.  A file that is missing or
 * unreadable becomes "unknown", never an error: most boards and VMs lack some
 * of these files (this project's CI VM has no cpufreq at all).
 *
 * Never: no hwloc, no writes to /sys or /proc, no printing, no exit(). */
#include "platforms/sysinfo.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "util/text.h"

/* One feature we record: the kernel's cpuinfo spelling and ours.  The table
 * order is the order of plat_parse_isa's output, so it must not change
 * (it feeds the platform fingerprint). */
typedef struct isa_name {
    const char *cpuinfo;
    const char *ours;
} isa_name;

static const isa_name x86_isa[] = {
    {"sse", "sse"},         {"sse2", "sse2"},         {"pni", "sse3"},
    {"ssse3", "ssse3"},     {"sse4_1", "sse4_1"},     {"sse4_2", "sse4_2"},
    {"avx", "avx"},         {"avx2", "avx2"},         {"fma", "fma"},
    {"f16c", "f16c"},       {"avx512f", "avx512f"},   {"avx512bw", "avx512bw"},
    {"avx512vl", "avx512vl"}, {"avx512dq", "avx512dq"}, {"avx512_vnni", "avx512_vnni"},
    {"avx512_bf16", "avx512_bf16"}, {"avx512_fp16", "avx512_fp16"},
    {"avx_vnni", "avx_vnni"}, {"amx_tile", "amx_tile"}, {"amx_bf16", "amx_bf16"},
    {"amx_int8", "amx_int8"},
};

static const isa_name arm_isa[] = {
    {"asimd", "neon"},  {"neon", "neon"},   /* "neon" on 32-bit Arm kernels */
    {"fphp", "fp16"},   {"asimdhp", "fp16"}, {"asimddp", "dotprod"},
    {"i8mm", "i8mm"},   {"bf16", "bf16"},   {"sve", "sve"},
    {"sve2", "sve2"},   {"sme", "sme"},
};

/* 1 if the space-separated word list holds word exactly. */
static int has_word(const char *list, const char *word)
{
    size_t n = strlen(word);
    const char *p = list;
    while (*p) {
        while (*p && isspace((unsigned char)*p))
            p++;
        const char *start = p;
        while (*p && !isspace((unsigned char)*p))
            p++;
        if ((size_t)(p - start) == n && n > 0 && memcmp(start, word, n) == 0)
            return 1;
    }
    return 0;
}

/* Appends word to the space-separated list in out unless it is already there
 * or does not fit whole. */
static void append_word(char *out, size_t out_size, const char *word)
{
    if (has_word(out, word))
        return;
    size_t len = strlen(out), add = strlen(word) + (len ? 1 : 0);
    if (len + add + 1 > out_size)
        return;
    if (len)
        out[len++] = ' ';
    memcpy(out + len, word, strlen(word) + 1);
}

/* Copies the value of the first "key : value" line of text whose key is name
 * into a heap string (caller frees); NULL when there is no such line. */
static char *line_value(const char *text, const char *name)
{
    size_t n = strlen(name);
    for (const char *line = text; line && *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        const char *colon = memchr(line, ':', len);
        if (colon) {
            const char *k = line, *kend = colon;
            while (kend > k && isspace((unsigned char)kend[-1]))
                kend--;
            if ((size_t)(kend - k) == n && memcmp(k, name, n) == 0)
                return strndup(colon + 1, len - (size_t)(colon + 1 - line));
        }
        line = end ? end + 1 : NULL;
    }
    return NULL;
}

static void map_features(const char *flags, const isa_name *table, size_t n,
                         char *out, size_t out_size)
{
    for (size_t i = 0; i < n; i++)
        if (has_word(flags, table[i].cpuinfo))
            append_word(out, out_size, table[i].ours);
}

void plat_parse_isa(const char *cpuinfo, char *out, size_t out_size)
{
    if (out_size == 0)
        return;
    out[0] = '\0';
    char *flags = cpuinfo ? line_value(cpuinfo, "flags") : NULL;
    if (flags) {
        map_features(flags, x86_isa, sizeof x86_isa / sizeof x86_isa[0], out, out_size);
        free(flags);
        return;
    }
    char *features = cpuinfo ? line_value(cpuinfo, "Features") : NULL;
    if (features) {
        map_features(features, arm_isa, sizeof arm_isa / sizeof arm_isa[0], out, out_size);
        free(features);
        return;
    }
    cb_strlcpy(out, PLAT_UNKNOWN, out_size);
}

const char *plat_parse_simd_best(const char *isa)
{
    static const char *const widest_first[] = {"avx512f", "avx2", "sse2", "sve", "neon"};
    if (!isa || strcmp(isa, PLAT_UNKNOWN) == 0)
        return PLAT_UNKNOWN;
    for (size_t i = 0; i < sizeof widest_first / sizeof widest_first[0]; i++)
        if (has_word(isa, widest_first[i]))
            return widest_first[i];
    return "scalar";
}

void plat_parse_bracketed(const char *text, char *out, size_t out_size)
{
    const char *open = text ? strchr(text, '[') : NULL;
    const char *close = open ? strchr(open, ']') : NULL;
    if (!close || close == open + 1) {
        cb_strlcpy(out, PLAT_UNKNOWN, out_size);
        return;
    }
    size_t n = (size_t)(close - open - 1);
    if (out_size == 0)
        return;
    if (n >= out_size)
        n = out_size - 1;
    memcpy(out, open + 1, n);
    out[n] = '\0';
}

/* 1 or 0 from a sysfs file holding "1" or "0"; -1 for anything else. */
static int parse_flag(const char *text)
{
    if (!text)
        return -1;
    while (isspace((unsigned char)*text))
        text++;
    if ((text[0] == '0' || text[0] == '1') && (text[1] == '\0' || isspace((unsigned char)text[1])))
        return text[0] - '0';
    return -1;
}

const char *plat_parse_boost(const char *boost, const char *no_turbo)
{
    int on = parse_flag(boost);
    if (on < 0 && parse_flag(no_turbo) >= 0)
        on = !parse_flag(no_turbo);
    return on < 0 ? PLAT_UNKNOWN : on ? "on" : "off";
}

/* The whole file as a heap string (caller frees), or NULL if unreadable. */
static char *slurp(const char *path)
{
    return cb_read_file(path, NULL, NULL);
}

void plat_sys_isa(char *out, size_t out_size)
{
    char *text = slurp("/proc/cpuinfo");
    plat_parse_isa(text, out, out_size);
    free(text);
}

uint64_t plat_sys_mem_bytes(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || page <= 0)
        return 0;
    return (uint64_t)pages * (uint64_t)page;
}

void plat_sys_uname(char *os, size_t os_size, char *kernel, size_t kernel_size,
                    char *arch, size_t arch_size)
{
    struct utsname u;
    int ok = uname(&u) == 0;
    cb_strlcpy(os, ok ? u.sysname : PLAT_UNKNOWN, os_size);
    cb_strlcpy(kernel, ok ? u.release : PLAT_UNKNOWN, kernel_size);
    cb_strlcpy(arch, ok ? u.machine : PLAT_UNKNOWN, arch_size);
}

void plat_sys_governor(char *out, size_t out_size)
{
    char *text = slurp("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor");
    const char *word = text ? cb_trim(text) : "";
    cb_strlcpy(out, *word ? word : PLAT_UNKNOWN, out_size);
    free(text);
}

const char *plat_sys_boost(void)
{
    char *boost = slurp("/sys/devices/system/cpu/cpufreq/boost");
    char *no_turbo = slurp("/sys/devices/system/cpu/intel_pstate/no_turbo");
    const char *state = plat_parse_boost(boost, no_turbo);
    free(boost);
    free(no_turbo);
    return state;
}

void plat_sys_thp(char *out, size_t out_size)
{
    char *text = slurp("/sys/kernel/mm/transparent_hugepage/enabled");
    plat_parse_bracketed(text, out, out_size);
    free(text);
}
