/* util/error.c — filling and prefixing cb_err messages (see error.h). */
#include "util/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int cb_fail(cb_err *err, const char *fmt, ...)
{
    if (!err)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return -1;
}

int cb_wrap(cb_err *err, const char *fmt, ...)
{
    if (!err)
        return -1;
    char prefix[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    /* Shift the old message right by "prefix: " and write the prefix in front;
     * the tail is cut if the whole does not fit. */
    size_t plen = strlen(prefix), cap = sizeof err->msg;
    memmove(err->msg + plen + 2, err->msg, cap - plen - 3);
    err->msg[cap - 1] = '\0';
    memcpy(err->msg, prefix, plen);
    err->msg[plen] = ':';
    err->msg[plen + 1] = ' ';
    return -1;
}
