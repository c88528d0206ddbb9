/* util/text.c — small string and file helpers (see text.h). */
#include "util/text.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

char *cb_read_file(const char *path, size_t *len_out, cb_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        cb_fail(err, "%s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t got = fread(buf + len, 1, cap - len - 1, f);
        len += got;
        if (got == 0)
            break;
        if (cap - len - 1 == 0) {
            char *bigger = realloc(buf, cap * 2);
            if (!bigger) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = bigger;
            cap *= 2;
        }
    }
    int failed = !buf || ferror(f);
    fclose(f);
    if (failed) {
        free(buf);
        cb_fail(err, "%s: cannot read the file", path);
        return NULL;
    }
    buf[len] = '\0';
    if (len_out)
        *len_out = len;
    return buf;
}

void cb_strlcpy(char *dst, const char *src, size_t cap)
{
    if (cap == 0)
        return;
    size_t n = strlen(src);
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

char *cb_trim(char *s)
{
    char *start = s;
    while (isspace((unsigned char)*start))
        start++;
    size_t n = strlen(start);
    while (n > 0 && isspace((unsigned char)start[n - 1]))
        n--;
    memmove(s, start, n);
    s[n] = '\0';
    return s;
}

int cb_mkdirs_for(const char *path, cb_err *err)
{
    char dir[4096];
    cb_strlcpy(dir, path, sizeof dir);
    char *slash = strrchr(dir, '/');
    if (!slash)
        return 0;
    *slash = '\0';
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(dir, 0777) != 0 && errno != EEXIST)
            return cb_fail(err, "%s: cannot create folder: %s", dir, strerror(errno));
        *p = '/';
    }
    if (dir[0] && mkdir(dir, 0777) != 0 && errno != EEXIST)
        return cb_fail(err, "%s: cannot create folder: %s", dir, strerror(errno));
    return 0;
}

int cb_map_file(const char *path, void **map, size_t *len, cb_err *err)
{
    *map = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cb_fail(err, "%s: %s", path, strerror(errno));
    struct stat sb;
    int rc = -1;
    if (fstat(fd, &sb) < 0)
        cb_fail(err, "%s: %s", path, strerror(errno));
    else if (!S_ISREG(sb.st_mode))
        cb_fail(err, "%s: not a regular file", path);
    else if (sb.st_size == 0)
        rc = 0;
    else {
        void *m = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            cb_fail(err, "%s: mmap: %s", path, strerror(errno));
        } else {
            *map = m;
            *len = (size_t)sb.st_size;
            rc = 0;
        }
    }
    close(fd);
    return rc;
}
