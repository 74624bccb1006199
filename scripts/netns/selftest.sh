#!/usr/bin/env bash
# selftest.sh: checks scripts/netns/hosts end to end with real namespaces, diod,
# bindfs and ping: addresses, 9P across hosts, one mount namespace per host,
# delay, loss, partition and heal, and a down that leaves nothing behind.
#
#   scripts/netns/selftest.sh [--prefix P]     (default prefix c9t, not the c9 of daily use)
#
# Prints one PASS/FAIL line per check, then "N passed, N failed"; exit status 1
# if any failed. A missing tool is a failure under CI=true, a skip (status 0) otherwise.
set -euo pipefail

here=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
prefix=c9t
[[ ${1:-} == --prefix && -n ${2:-} ]] && prefix=$2
scratch=/tmp/c9fs-netns/selftest.$prefix
port=5640

passed=0
failed=0
pass() { echo "PASS $*"; passed=$((passed + 1)); }
fail() { echo "FAIL $*"; failed=$((failed + 1)); }
# check NAME CMD...: PASS if CMD succeeds
check() { local name=$1; shift; if "$@"; then pass "$name"; else fail "$name"; fi; }

h() { "$here/hosts" "$1" --prefix "$prefix" "${@:2}"; }

finish() {
	echo "$passed passed, $failed failed"
	((failed == 0))
}

missing=
for t in ip nsenter unshare setsid ping iptables gcc diod diodcat diodls bindfs fusermount3; do
	command -v "$t" >/dev/null || missing+=" $t"
done
[[ -e /dev/fuse ]] || missing+=" /dev/fuse"
((EUID == 0)) || missing+=" root"
if [[ -n $missing ]]; then
	if [[ ${CI:-} == true ]]; then
		fail "requirements (missing:$missing)"
		finish
	fi
	echo "selftest: skipped: missing$missing (a failure when CI=true)"
	exit 0
fi

# shellcheck disable=SC2317 # called through the trap
cleanup() {
	h down >/dev/null 2>&1 || true
	umount "$scratch/machine-mnt" 2>/dev/null || true
	rm -rf "$scratch"
}
trap cleanup EXIT
h down >/dev/null 2>&1 || true   # a crashed earlier run
rm -rf "$scratch"
mkdir -p "$scratch"/{export,src,mnt}
token=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
echo "$token" >"$scratch/export/hello.txt"
echo "$token" >"$scratch/src/local.txt"

# true once PID has exited (a zombie counts: its parent may be slow to reap), within 5 s
gone() {
	local i st
	for ((i = 0; i < 50; i++)); do
		st=$(ps -o stat= -p "$1" 2>/dev/null) || return 0
		[[ $st == Z* ]] && return 0
		sleep 0.1
	done
	return 1
}

# avg RTT in ms of N pings from host FROM to host TO
rtt() {
	h exec "$1" timeout 30 ping -n -q -c "${3:-10}" -i 0.2 "$(h addr "$2")" |
		awk -F/ '/^rtt/ { print $5 }'
}
# true if A <= X <= B (decimals)
within() { awk -v x="$1" -v a="$2" -v b="$3" 'BEGIN { exit !(x != "" && x >= a && x <= b) }'; }
diodcat_from() { timeout "${2:-10}" "$here/hosts" exec --prefix "$prefix" "$1" diodcat -t "${3:-8}" -s "$srv:$port" -a "$scratch/export" hello.txt; }

# A FUSE mount the machine made before up, to see that the hosts keep no copy of it.
mkdir -p "$scratch/machine-mnt"
bindfs "$scratch/src" "$scratch/machine-mnt"
machine_bindfs=$(pgrep -xn bindfs) || machine_bindfs=

# ---- up ----
if out=$(h up --clients 2 --delay 5ms 2>&1); then
	pass "up --clients 2 --delay 5ms"
	printf "    %s\n" "${out//$'\n'/$'\n    '}"
else
	fail "up --clients 2 --delay 5ms: $out"
	finish
fi
srv=$(h addr srv)
umount "$scratch/machine-mnt"
machine_bindfs_gone() { [[ -n $machine_bindfs ]] && gone "$machine_bindfs"; }
check "a FUSE daemon of the machine ends when the machine unmounts it (hosts hold no copy)" machine_bindfs_gone
check "the machine's own namespace got no address, route or link of ours" \
	bash -c "! ip -o addr | grep -q '10\.99\.0\.' && ! ip route | grep -q '10\.99\.0\.' && ! ip -o link | grep -qE ' (v-[a-z]+|br0)[@:]'"
check "a and b have no route off the 10.99.0.0/24 link" \
	bash -c "[[ \$('$here/hosts' exec --prefix $prefix a ip route) == '10.99.0.0/24 '* ]] && [[ \$('$here/hosts' exec --prefix $prefix b ip -o route | wc -l) == 1 ]]"

ms=$(rtt a srv)
if within "$ms" 10 25; then pass "RTT a-srv with 5ms per host: ${ms} ms (want 10..25)"; else fail "RTT a-srv with 5ms per host: '${ms}' ms (want 10..25)"; fi

# ---- 9P across hosts ----
h exec srv diod -f -n -l "$srv:$port" -e "$scratch/export" -L "$scratch/diod.log" </dev/null >/dev/null 2>&1 &
diod_pid=$!
for ((i = 0; i < 100; i++)); do
	h exec srv ss -Hltn "sport = :$port" 2>/dev/null | grep -q . && break
	sleep 0.1
done
check "diod listens on $srv:$port inside srv only" \
	bash -c "'$here/hosts' exec --prefix $prefix srv ss -Hltn 'sport = :$port' | grep -q . && ! ss -Hltn 'sport = :$port' | grep -q ."
check "diodcat from a reads the file srv exports" \
	bash -c "[[ \$(timeout 10 '$here/hosts' exec --prefix $prefix a diodcat -t 8 -s $srv:$port -a $scratch/export hello.txt) == $token ]]"
check "diodls from b lists the export" \
	bash -c "timeout 10 '$here/hosts' exec --prefix $prefix b diodls -t 8 -s $srv:$port -a $scratch/export | grep -qx hello.txt"

# ---- one mount namespace per host ----
check "bindfs mounts inside a" h exec a bindfs "$scratch/src" "$scratch/mnt"
check "a later exec on a sees the mount" \
	bash -c "'$here/hosts' exec --prefix $prefix a mountpoint -q $scratch/mnt && [[ \$('$here/hosts' exec --prefix $prefix a cat $scratch/mnt/local.txt) == $token ]]"
check "b does not see a's mount" bash -c "! '$here/hosts' exec --prefix $prefix b mountpoint -q $scratch/mnt"
check "the machine does not see a's mount" bash -c "! mountpoint -q $scratch/mnt"
check "hosts path a reaches a's mount from the machine" \
	bash -c "p=\$('$here/hosts' path --prefix $prefix a $scratch/mnt) && [[ \$(stat -f -c %T \$p) == fuse* && \$(cat \$p/local.txt) == $token ]]"

# ---- delay and loss ----
h delay a 50ms
ms=$(rtt a srv)
if within "$ms" 55 80; then pass "RTT a-srv after delay a 50ms: ${ms} ms (want 55..80)"; else fail "RTT a-srv after delay a 50ms: '${ms}' ms (want 55..80)"; fi
start=$(date +%s%N)
check "diodcat from a works with 50ms" bash -c "[[ \$(timeout 10 '$here/hosts' exec --prefix $prefix a diodcat -t 8 -s $srv:$port -a $scratch/export hello.txt) == $token ]]"
echo "    diodcat (connect, version, attach, walk, open, read, clunk) took $((($(date +%s%N) - start) / 1000000)) ms at 55 ms RTT"
h delay a 0
h delay srv 0
ms=$(rtt a srv)
if within "$ms" 0 4; then pass "RTT a-srv after delay 0 on both: ${ms} ms (want < 4)"; else fail "RTT a-srv after delay 0 on both: '${ms}' ms (want < 4)"; fi
h loss b 50%
lost=$(h exec b timeout 30 ping -n -q -c 100 -i 0.02 "$srv" 2>/dev/null | awk '/packet loss/ { for (i = 1; i <= NF; i++) if ($i ~ /%$/) { sub(/%/, "", $i); print $i } }') || true
if within "$lost" 25 75; then pass "loss b 50%: ${lost}% of 100 pings lost (want 25..75)"; else fail "loss b 50%: '${lost}'% of 100 pings lost (want 25..75)"; fi
h loss b 0

# ---- partition and heal ----
h partition a
check "partitioned a cannot ping srv" bash -c "! '$here/hosts' exec --prefix $prefix a timeout 5 ping -n -q -c 2 -W 1 $srv >/dev/null"
check "srv cannot ping partitioned a" bash -c "! '$here/hosts' exec --prefix $prefix srv timeout 5 ping -n -q -c 2 -W 1 $(h addr a) >/dev/null"
start=$(date +%s%N)
if out=$(diodcat_from a 6 4 2>&1); then
	fail "diodcat from partitioned a fails (it printed: $out)"
else
	pass "diodcat from partitioned a fails, after $((($(date +%s%N) - start) / 1000000)) ms: ${out//$'\n'/ }"
fi
check "b still reads while a is partitioned" bash -c "[[ \$(timeout 10 '$here/hosts' exec --prefix $prefix b diodcat -t 8 -s $srv:$port -a $scratch/export hello.txt) == $token ]]"
h heal a
check "a reads again after heal" bash -c "[[ \$(timeout 10 '$here/hosts' exec --prefix $prefix a diodcat -t 8 -s $srv:$port -a $scratch/export hello.txt) == $token ]]"

# ---- down, after a crash lost the state, with a's FUSE daemon wedged ----
bindfs_pid=$(h exec a pgrep -x bindfs | head -n 1) || bindfs_pid=
[[ -n $bindfs_pid ]] && kill -STOP "$bindfs_pid"
h exec a stat "$scratch/mnt/local.txt" >/dev/null 2>&1 &
stuck_pid=$!
sleep 0.5
check "a stat on a's mount hangs while its daemon is stopped" kill -0 "$stuck_pid"
rm -rf "/tmp/c9fs-netns/state/$prefix"
start=$(date +%s%N)
check "down without state succeeds" h down
ms=$((($(date +%s%N) - start) / 1000000))
if ((ms < 15000)); then pass "down took $ms ms (want < 15 s)"; else fail "down took $ms ms (want < 15 s)"; fi
check "the stuck stat returned" gone "$stuck_pid"
check "down again is a no-op" h down
check "no namespace of prefix $prefix left" bash -c "! ip netns list | grep -qE '^$prefix-'"
check "diod (pid $diod_pid) ended" gone "$diod_pid"
bindfs_gone() { [[ -n $bindfs_pid ]] && gone "$bindfs_pid"; }
check "bindfs (pid ${bindfs_pid:-?}) ended" bindfs_gone
check "no mount of $scratch left on the machine" bash -c "! grep -q ' $scratch' /proc/self/mountinfo"
wait "$diod_pid" "$stuck_pid" 2>/dev/null || true

finish
