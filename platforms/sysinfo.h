/* platforms/sysinfo.h — what the running system says about itself outside hwloc:
 * the ISA features in /proc/cpuinfo, memory size, uname, and the tunables that
 * change a measurement (cpufreq governor, boost, transparent huge pages).
 *
 * Two layers: plat_parse_* functions turn text into a value and touch nothing
 * else (the tests feed them cpuinfo of machines we are not on); plat_sys_*
 * functions read the live files and hand the text to the parsers.  Anything
 * that cannot be read is recorded as "unknown".
 *
 * Never: no hwloc (that is topo.c), no measurement, no writes to /sys or /proc,
 * no printing. */
#ifndef CTXBENCH_PLATFORMS_SYSINFO_H
#define CTXBENCH_PLATFORMS_SYSINFO_H

#include <stddef.h>
#include <stdint.h>

#define PLAT_UNKNOWN "unknown"

/* The ISA features of interest named in the "flags" (x86) or "Features" (Arm)
 * line of a /proc/cpuinfo text, space separated in a fixed canonical order
 * (x86: sse ... amx_int8; Arm: neon fp16 dotprod i8mm bf16 sve sve2 sme).
 * Arm names are normalised: asimd -> neon, asimddp -> dotprod, fphp/asimdhp ->
 * fp16; x86 pni -> sse3.  Writes "unknown" when the text has no such line and ""
 * when the line names none of them.  Truncates to out_size.  Cannot fail. */
void plat_parse_isa(const char *cpuinfo, char *out, size_t out_size);

/* The widest vector ISA in a space-separated feature list: "avx512f" > "avx2" >
 * "sse2" on x86, "sve" > "neon" on Arm, else "scalar"; "unknown" when isa is
 * "unknown" or NULL.  Returns a static string. */
const char *plat_parse_simd_best(const char *isa);

/* The bracketed word of a sysfs choice file such as
 * "always [madvise] never" -> "madvise"; "unknown" when text is NULL or has no
 * brackets.  Truncates to out_size. */
void plat_parse_bracketed(const char *text, char *out, size_t out_size);

/* "on"/"off" from the text of cpufreq/boost ("1" on) or, when that is NULL,
 * intel_pstate/no_turbo ("1" means off); "unknown" when both are NULL or hold
 * something else.  Returns a static string. */
const char *plat_parse_boost(const char *boost, const char *no_turbo);

/* The ISA features of this CPU (plat_parse_isa of /proc/cpuinfo). */
void plat_sys_isa(char *out, size_t out_size);

/* Total physical memory in bytes, 0 when unknown. */
uint64_t plat_sys_mem_bytes(void);

/* uname(2): OS name, kernel release and machine architecture; each is
 * "unknown" if uname fails.  Truncates to the given sizes. */
void plat_sys_uname(char *os, size_t os_size, char *kernel, size_t kernel_size,
                    char *arch, size_t arch_size);

/* CPU 0's cpufreq scaling governor, e.g. "performance", or "unknown". */
void plat_sys_governor(char *out, size_t out_size);

/* Turbo/boost state: "on", "off" or "unknown".  Returns a static string. */
const char *plat_sys_boost(void);

/* Transparent huge pages mode ("always", "madvise", "never") or "unknown". */
void plat_sys_thp(char *out, size_t out_size);

#endif
