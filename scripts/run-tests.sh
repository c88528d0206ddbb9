#!/usr/bin/env bash
# Runs each test program given on the command line (cmocka binaries), shows
# their output, and ends with one summary line "tests: N passed, N failed".
# Exits non-zero if any test failed or any program crashed.
set -u
passed=0 failed=0 crashed=0
for t in "$@"; do
  out=$("$t" 2>&1); rc=$?
  printf '%s\n' "$out"
  p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | awk '{s+=$1} END {print s+0}')
  f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | awk '{s+=$1} END {print s+0}')
  passed=$((passed + p)); failed=$((failed + f))
  if [[ $rc -ne 0 && $f -eq 0 ]]; then
    echo "run-tests: $t exited with status $rc" >&2; crashed=$((crashed + 1)); failed=$((failed + 1))
  fi
done
echo "tests: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
