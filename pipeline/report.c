/* pipeline/report.c — `ctxbench report`: the Markdown report, rendered from the
 * database alone by reports/. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "pipeline/cli.h"
#include "reports/report.h"

static const char report_usage[] =
    "usage: ctxbench report [--experiment NAME] [-o FILE] [--db PATH]\n"
    "\n"
    "Prints, for each experiment (or NAME) and each platform that ran it, the\n"
    "latest results as Markdown tables with the platform's measured roofline.\n"
    "  -o FILE   write the report to FILE instead of standard output\n";

int cmd_report(int argc, char **argv)
{
    if (cli_wants_help(argc, argv, report_usage))
        return 0;
    static const struct option longopts[] = {
        {"experiment", required_argument, NULL, 'e'}, {"db", required_argument, NULL, 'd'},
        {"output", required_argument, NULL, 'o'},     {NULL, 0, NULL, 0},
    };
    const char *experiment = NULL, *db = NULL, *output = NULL;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "o:", longopts, NULL)) != -1) {
        switch (c) {
        case 'e': experiment = optarg; break;
        case 'd': db = optarg; break;
        case 'o': output = optarg; break;
        default: return cli_error("report: unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc)
        return cli_error("report: unexpected argument '%s'", argv[optind]);
    cb_err err = {{0}};
    store *s = NULL;
    if (store_open(cli_db_path(db), &s, &err) != 0)
        return cli_fail(&err);
    FILE *out = output ? fopen(output, "w") : stdout;
    int rc = 0;
    if (!out)
        rc = cli_error("report: %s: %s", output, strerror(errno));
    else if (report_markdown(s, experiment, out, &err) != 0)
        rc = cli_fail(&err);
    if (out && out != stdout && fclose(out) != 0 && rc == 0)
        rc = cli_error("report: %s: %s", output, strerror(errno));
    store_close(s);
    return rc;
}
