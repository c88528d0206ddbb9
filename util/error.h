/* util/error.h — how errors travel up in ctxbench.
 *
 * Functions below main() never print or exit on a failure: they fill a cb_err
 * with one line of text ("what: why", naming the file, line or field at fault)
 * and return -1.  The subcommand prints it as "ctxbench: <msg>" and exits
 * non-zero.  A NULL cb_err pointer is allowed everywhere: the text is dropped. */
#ifndef CTXBENCH_UTIL_ERROR_H
#define CTXBENCH_UTIL_ERROR_H

#include <stddef.h>

typedef struct cb_err {
    char msg[1024];
} cb_err;

/* Sets err->msg from a printf-style format and returns -1, so a failing
 * function can end with `return cb_fail(err, "...", ...);`. */
int cb_fail(cb_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prefixes the message already in err with "<prefix>: " (for adding the file
 * or context on the way up).  Returns -1. */
int cb_wrap(cb_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
