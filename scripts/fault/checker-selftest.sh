#!/usr/bin/env bash
# checker-selftest: chaosload's checker on crafted trees (no mount needed): a good tree passes;
# a lost acknowledged write, an acknowledged block gone to zeros, a torn page, a corrupt block,
# a lost increment, a torn page seen by a reader and a process that never ended each fail.
set -euo pipefail
FAULT_NAME=checker-selftest
. "$(dirname "$(readlink -f "$0")")/lib.sh"
command -v gcc >/dev/null || cannot_run "missing gcc"
fault_build || result FAIL "compiling the C tools failed"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
if "$CHAOSLOAD" selftest >"$out" 2>&1; then
	result ok "$(grep -c '^selftest ok' "$out") crafted trees judged as expected (a lost write and a torn page among them fail)"
fi
cat "$out"
result FAIL "$(grep '^selftest FAIL' "$out" | tr '\n' ';')"
