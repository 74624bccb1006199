#!/usr/bin/env bash
# selftest.sh: checks the checkers. The coherence test must pass on a local
# directory and must FAIL on two bindfs mounts (whose mappings are known to be
# incoherent), or it proves nothing; the bench harness must produce every
# figure for the local peer and report an unknown peer as skipped.
#
#   scripts/selftest.sh
#
# With CI=true a missing tool (gcc, bindfs, /dev/fuse) is a failure; otherwise
# that part is skipped with the reason. Exit status 0 only if nothing failed.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
scratch=$(mktemp -d /tmp/c9fs-scripts-selftest.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
failures=0

ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; failures=$((failures + 1)); }

# Prints why a tool is unusable; under CI that is a failure, elsewhere a skip.
lacking() {
	local what=$1 why=$2
	if [[ ${CI:-} == true ]]; then
		bad "$what: $why"
	else
		echo "skip $what: $why"
	fi
}

# last line of coherence output: "N passed, M failed"
summary_of() { tail -n 1 "$1"; }

test_local_passes() {
	local rc=0
	mkdir -p "$scratch/local"
	"$here/coherence-test" "$scratch/local" "$scratch/local" >"$scratch/local.out" 2>&1 || rc=$?
	if ((rc == 0)) && summary_of "$scratch/local.out" | grep -Eq '^[1-9][0-9]* passed, 0 failed$' &&
		! grep -q '^FAIL' "$scratch/local.out" && [[ -z $(ls -A "$scratch/local") ]]; then
		ok "coherence-test on a local directory: $(summary_of "$scratch/local.out"), no files left"
	else
		bad "coherence-test on a local directory (status $rc):"
		cat "$scratch/local.out"
	fi
}

test_bindfs_fails() {
	local rc=0
	command -v bindfs >/dev/null || { lacking "bindfs negative control" "bindfs not installed"; return; }
	[[ -e /dev/fuse ]] || { lacking "bindfs negative control" "/dev/fuse missing"; return; }
	"$here/coherence-peer" bindfs --only 2,4 >"$scratch/bindfs.out" 2>&1 || rc=$?
	if ((rc == 1)) && grep -q '^FAIL clause-2 ' "$scratch/bindfs.out" &&
		! grep -q '^PASS clause-2 ' "$scratch/bindfs.out" &&
		grep -q '^PASS clause-4 ' "$scratch/bindfs.out" && ! grep -q '^FAIL clause-4 ' "$scratch/bindfs.out"; then
		ok "coherence-peer bindfs: clause 2 fails across mounts, clause 4 passes within one"
	else
		bad "coherence-peer bindfs --only 2,4 (status $rc, want 1, clause 2 failing, clause 4 passing):"
		cat "$scratch/bindfs.out"
	fi
}

test_usage() {
	local rc=0
	"$here/coherence-test" "$scratch/missing" "$scratch/missing" >/dev/null 2>&1 || rc=$?
	if ((rc == 2)); then ok "coherence-test: missing directory is a setup error (2)"; else bad "missing directory gave $rc"; fi
	rc=0
	"$here/coherence-test" --only 9 "$scratch" "$scratch" >/dev/null 2>&1 || rc=$?
	if ((rc == 2)); then ok "coherence-test: --only selecting nothing is an error (2)"; else bad "--only 9 gave $rc"; fi
}

test_bench_local() {
	local rc=0 tsv=$scratch/bench.tsv metrics
	"$here/bench/bench.sh" --quick --size-mb 8 --peers local,nosuch --work "$scratch/bench" --out "$tsv" \
		>"$scratch/bench.out" 2>&1 || rc=$?
	metrics=$(awk -F'\t' '$2 == "local" && $1 == 1 && $4 > 0 { print $3 }' "$tsv" 2>/dev/null | sort -u | wc -l)
	if ((rc == 0)) && ((metrics == 12)) && grep -q $'^0\tnosuch\tskipped' "$tsv" &&
		grep -q '^| d. ls -l' "$scratch/bench.out"; then
		ok "bench.sh --quick: 12 figures for local, unknown peer skipped, table printed"
	else
		bad "bench.sh --quick (status $rc, $metrics of 12 figures):"
		cat "$scratch/bench.out"
	fi
}

if ! command -v gcc >/dev/null; then
	lacking "everything" "gcc not installed"
else
	test_local_passes
	test_bindfs_fails
	test_usage
	test_bench_local
fi
echo "selftest: $failures failed"
((failures == 0))
