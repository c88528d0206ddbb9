/* fetch/pypi.c — pip download of one wheel (fetch/pypi.h): spawn pip without a
 * shell, wait for it, find the wheel it saved.
 *
 * Never: install anything, run a shell, print (pip's output goes to a log). */
#include "fetch/pypi.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/text.h"

extern char **environ;

/* The last part of the log at path (at most cap - 1 bytes, whole lines),
 * for an error message. */
static void log_tail(const char *path, char *out, size_t cap)
{
    out[0] = '\0';
    cb_err ignored;
    size_t len;
    char *text = cb_read_file(path, &len, &ignored);
    if (!text)
        return;
    size_t from = len > cap - 1 ? len - (cap - 1) : 0;
    while (from > 0 && from < len && text[from - 1] != '\n')
        from++;
    cb_strlcpy(out, text + from, cap);
    for (char *c = out; *c; c++)
        if (*c == '\n')
            *c = ' ';
    free(text);
}

/* Runs argv with stdout and stderr to log_path; sets *status to its exit
 * status.  Returns 0, or -1 with err when it cannot be started. */
static int run_logged(char *const argv[], const char *log_path, int *status, cb_err *err)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        return cb_fail(err, "cannot run %s: %s (install python3-pip, or set CTXBENCH_PYTHON)",
                       argv[0], strerror(rc));
    while (waitpid(pid, status, 0) < 0)
        if (errno != EINTR)
            return cb_fail(err, "waiting for %s: %s", argv[0], strerror(errno));
    return 0;
}

/* The single *.whl file in dir.  Returns 0, or -1 with err. */
static int find_wheel(const char *dir, char *out, size_t cap, cb_err *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return cb_fail(err, "%s: %s", dir, strerror(errno));
    int found = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n > 4 && strcmp(e->d_name + n - 4, ".whl") == 0) {
            found++;
            if (snprintf(out, cap, "%s/%s", dir, e->d_name) >= (int)cap)
                found = -1000;
        }
    }
    closedir(d);
    if (found != 1)
        return cb_fail(err, "%s: pip left %s wheel file%s", dir, found == 0 ? "no" : "more than one",
                       found == 0 ? "" : "s (or a path too long)");
    return 0;
}

int pypi_download_wheel(const char *package, const char *version, const char *dir,
                        char *wheel_path, size_t cap, cb_err *err)
{
    const char *python = getenv("CTXBENCH_PYTHON");
    if (!python || !*python)
        python = "python3";
    char spec[160], log_path[4096];
    if (snprintf(spec, sizeof spec, "%s==%s", package, version) >= (int)sizeof spec ||
        snprintf(log_path, sizeof log_path, "%s/pip.log", dir) >= (int)sizeof log_path)
        return cb_fail(err, "pip download %s==%s: name or folder too long", package, version);
    char *argv[] = {(char *)python, "-m", "pip", "download", "--no-deps",
                    "--only-binary=:all:", "--no-input", "--disable-pip-version-check",
                    "-d", (char *)dir, spec, NULL};
    int status;
    if (run_logged(argv, log_path, &status, err) != 0)
        return -1;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        char tail[400];
        log_tail(log_path, tail, sizeof tail);
        return cb_fail(err, "pip download %s failed (exit %d): %s", spec,
                       WIFEXITED(status) ? WEXITSTATUS(status) : -1, tail);
    }
    return find_wheel(dir, wheel_path, cap, err);
}
