/* pipeline/cli.h — what the subcommands share: the command table's entry
 * points, error printing, the database path, and terminal detection.
 *
 * Only files in pipeline/ may print to the user or exit (and only main() exits). */
#ifndef CTXBENCH_PIPELINE_CLI_H
#define CTXBENCH_PIPELINE_CLI_H

#include <jansson.h>

#include "util/error.h"

/* Subcommands: each returns the process exit code. */
int cmd_platform(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_db(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_archive(int argc, char **argv);
int cmd_fetch(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_compare(int argc, char **argv);

/* Prints "ctxbench: <message>" to stderr and returns 1 (an exit code). */
int cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints err's message as a ctxbench error and returns 1. */
int cli_fail(const cb_err *err);

/* The database path: the --db option if given, else $CTXBENCH_DB, else
 * results/results.db. */
const char *cli_db_path(const char *option);

/* 1 when progress may be drawn on stderr (a terminal). */
int cli_progress_enabled(void);

/* Prints a JSON value to stdout, indented, with a newline.  Returns 0 or 1. */
int cli_print_json(const json_t *value);

/* Handles "--help"/"-h" for a subcommand: prints usage to stdout and returns 1
 * if argv asks for help, else 0. */
int cli_wants_help(int argc, char **argv, const char *usage);

#endif
