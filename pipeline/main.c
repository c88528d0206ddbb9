/* pipeline/main.c — the `ctxbench` command: maps a subcommand name to its
 * cmd_xxx(argc, argv) function, whose return value is the exit code.  main()
 * is the only place that exits; it flushes stdout and reports a write error.
 *
 * Adding a subcommand:
 *   1. write pipeline/NAME.c with `int cmd_NAME(int argc, char **argv)`, which
 *      handles --help (cli_wants_help) and returns 0 on success;
 *   2. declare it in pipeline/cli.h;
 *   3. add a row to commands[] below (the name, the function, one line of help);
 *   4. add a test in tests/ and a line in README.md. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "pipeline/cli.h"
#include "util/buildinfo.h"

typedef struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"platform", cmd_platform, "describe this machine (or an hwloc XML), run the roofline probes"},
    {"run", cmd_run, "run an experiment file into the results database"},
    {"db", cmd_db, "list runs, show one, check the database"},
    {"report", cmd_report, "render the results database: Markdown, LaTeX, CSV and an HTML page with figures"},
    {"fetch", cmd_fetch, "fetch real checkpoints of the model manifest into the cache"},
    {"generate", cmd_generate, "run a GGUF checkpoint on a prompt and print the continuation"},
    {"archive", cmd_archive, "export runs to a result archive, import one"},
    {"compare", cmd_compare, "compare two runs, revisions or platforms point by point"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: ctxbench SUBCOMMAND [options]   (ctxbench SUBCOMMAND --help for more)\n\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nThe database is results/results.db unless --db PATH or CTXBENCH_DB says otherwise.\n");
}

static int finish(int rc)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "ctxbench: cannot write to standard output: %s\n", strerror(errno));
        return rc ? rc : 1;
    }
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return finish(0);
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("ctxbench %s%s (%s, %s)\n", cb_source_revision(), cb_source_dirty() == 1 ? "-dirty" : "",
               cb_compiler(), cb_cflags());
        return finish(0);
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return finish(commands[i].fn(argc - 1, argv + 1));
    cli_error("unknown subcommand '%s' (try ctxbench --help)", argv[1]);
    return 2;
}
