#!/usr/bin/env bash
# Runs each cmocka test program given on the command line with TAP output,
# shows it, and ends with one summary line "tests: N passed, N failed".  A
# program that crashes or exits non-zero without reporting a failed test
# counts as one more failure.  cmocka's TAP mode drops the failure messages,
# so a failing program is run once more in its default mode to show them.
# Exits non-zero if anything failed.
set -u
export CMOCKA_MESSAGE_OUTPUT=TAP
passed=0 failed=0
for t in "$@"; do
  echo "# $t"
  out=$("$t" 2>&1); rc=$?
  printf '%s\n' "$out"
  p=$(grep -c '^ok ' <<<"$out")
  f=$(grep -c '^not ok ' <<<"$out")
  passed=$((passed + p)); failed=$((failed + f))
  if [[ $rc -ne 0 && $f -eq 0 ]]; then
    echo "run-tests: $t exited with status $rc" >&2; failed=$((failed + 1))
  fi
  if [[ $rc -ne 0 || $f -ne 0 ]]; then
    echo "# $t again, for its failure messages (not counted):"
    CMOCKA_MESSAGE_OUTPUT=STDOUT "$t" 2>&1 | grep -v '^\[ \(RUN\|      OK\) '
  fi
done
echo "tests: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
