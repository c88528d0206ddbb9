/* pipeline/cli.c — helpers every subcommand shares (see cli.h). */
#include "pipeline/cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int cli_error(const char *fmt, ...)
{
    va_list ap;
    fputs("ctxbench: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 1;
}

int cli_fail(const cb_err *err)
{
    return cli_error("%s", err->msg[0] ? err->msg : "unknown error");
}

const char *cli_db_path(const char *option)
{
    if (option && *option)
        return option;
    const char *env = getenv("CTXBENCH_DB");
    return env && *env ? env : "results/results.db";
}

int cli_progress_enabled(void)
{
    return isatty(STDERR_FILENO);
}

int cli_print_json(const json_t *value)
{
    if (json_dumpf(value, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0)
        return cli_error("cannot write JSON to standard output");
    putchar('\n');
    return 0;
}

int cli_wants_help(int argc, char **argv, const char *usage)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage, stdout);
            return 1;
        }
    }
    return 0;
}
