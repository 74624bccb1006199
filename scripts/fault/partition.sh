#!/usr/bin/env bash
# partition: c9fs-serve and two clients each in a network namespace of their own, joined by
# veth pairs over a bridge (as scripts/netns/hosts does; names c9fs-fault-PID-*, deleted on
# exit, and those of a killed earlier run deleted at start). The FUSE daemons run in the
# clients' namespaces; their mounts are on this machine's mount table. With client a's link
# taken down:
#   1. a soft mount (-o soft,timeo=2,timeout=2) fails a call that needs the server with EIO
#      within timeout + timeo + margin;
#   2. a write through b to a file a holds a lease on waits at most about the lease term;
#   3. once the term has passed, a never serves the old bytes from its cache (EIO or the new);
#   4. after the link comes back, a sees the new bytes.
# Then with b's link down: a call on the hard mount b blocks (no error) and completes once the
# link is back. Needs c9fs-mount -o hard/soft (branch reconnect). docs/fault-injection.md.
set -euo pipefail
. "$(dirname "$(readlink -f "$0")")/lib.sh"
fault_init partition
for t in ip nsenter; do command -v "$t" >/dev/null || cannot_run "missing $t"; done
need_mount_option soft reconnect
term=6000        # ms: the server's lease term
timeo=2          # s: soft mount
rto=2            # s: request timeout, after which a silent server is taken as lost
margin=5000      # ms: a loaded 2-core machine

ns=c9fs-fault-$$
subnet=10.77.0
# Network namespaces of a killed earlier run: their owner (the pid in the name) no longer
# runs a partition scenario. Their processes were started by that run.
for old in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^c9fs-fault-[0-9]+-(srv|a|b|br)$' || true); do
	pid=${old#c9fs-fault-}
	pid=${pid%%-*}
	grep -qs partition "/proc/$pid/cmdline" && continue
	flog "deleting $old, left by a killed run (pid $pid)"
	for p in $(ip netns pids "$old" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
	with_timeout 10 ip netns del "$old" || true
done

netns_down() {
	local h
	for h in srv a b br; do
		[[ -e /run/netns/$ns-$h ]] || continue
		for p in $(ip netns pids "$ns-$h" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
		with_timeout 10 ip netns del "$ns-$h" || flog "could not delete $ns-$h"
	done
}
FAULT_HOOKS+=(netns_down)

addr_of() { case $1 in srv) echo "$subnet.1" ;; a) echo "$subnet.11" ;; b) echo "$subnet.12" ;; esac; }
in_ns() { local h=$1; shift; nsenter --net="/run/netns/$ns-$h" -- "$@"; }

with_timeout 10 ip netns add "$ns-br" || cannot_run "cannot create network namespaces"
ip -n "$ns-br" link set lo up
ip -n "$ns-br" link add br0 type bridge
ip -n "$ns-br" link set br0 up
for h in srv a b; do
	ip netns add "$ns-$h"
	ip -n "$ns-br" link add "v-$h" type veth peer name eth0 netns "$ns-$h"
	ip -n "$ns-br" link set "v-$h" master br0 up
	ip -n "$ns-$h" link set lo up
	ip -n "$ns-$h" addr add "$(addr_of "$h")/24" dev eth0
	ip -n "$ns-$h" link set eth0 up
done
link() { ip -n "$ns-br" link set "v-$1" "$2"; }   # link a down / link a up

srv=$(addr_of srv)
in_ns srv "$C9FS_SERVE" --export "$FR/export" --listen "$srv:$SERVE_PORT" --insecure --lease-term "$term" \
	${SERVE_ROBUST:+--state-dir "$FR/state"} </dev/null >>"$FR/logs/serve.log" 2>&1 &
SERVE_PID=$!
for ((i = 0; i < 300; i++)); do
	in_ns srv ss -Hltn "sport = :$SERVE_PORT" 2>/dev/null | grep -q . && break
	kill -0 "$SERVE_PID" 2>/dev/null || result FAIL "c9fs-serve exited (logs/serve.log)"
	sleep 0.1
done
in_ns srv ss -Hltn "sport = :$SERVE_PORT" | grep -q . || result FAIL "c9fs-serve did not listen on $srv:$SERVE_PORT"
for h in a b; do
	# shellcheck disable=SC2016 # for the inner bash
	with_timeout 20 nsenter --net="/run/netns/$ns-$h" -- bash -c 'exec 3<>"/dev/tcp/$1/$2"' bash "$srv" "$SERVE_PORT" ||
		result FAIL "$h cannot reach $srv:$SERVE_PORT"
done
# the daemons live in the clients' namespaces, the mounts on this machine's mount table
mount_in() {
	local h=$1 opts=$2
	with_timeout "$FAULT_T" nsenter --net="/run/netns/$ns-$h" -- "$C9FS_MOUNT" "$srv:$SERVE_PORT" "$FR/$h" -o "log=$FR/logs/mount.$h.log" -o "$opts" ||
		result FAIL "mounting $h failed (logs/mount.$h.log)"
	FAULT_MOUNTS+=("$FR/$h")
	DAEMON_PIDS+=("$(daemon_pid "$h")")
}
mount_in a "soft,timeo=$timeo,timeout=$rto"
mount_in b "hard,timeout=$((term / 1000 * 2 + 3))"   # above the term: a write may wait a term for a recall

head -c 4096 /dev/urandom >"$FR/v1"
head -c 4096 /dev/urandom >"$FR/v2"
with_timeout 30 dd if="$FR/v1" of="$FR/b/x" bs=4k conv=fsync status=none || result FAIL "writing x through b failed"
with_timeout 30 cmp -s "$FR/v1" "$FR/a/x" || result FAIL "a did not read x as written through b"
failures=()

# ---- a partitioned: soft EIO, the lease term, no stale read ----
link a down
t_part=$(now_ms)
t0=$(now_ms)
if with_timeout 60 sh -c 'echo new >"$1"' sh "$FR/a/new" 2>"$FR/soft.err"; then
	failures+=("a create on the partitioned soft mount succeeded")
fi
soft_ms=$(($(now_ms) - t0))
grep -q "Input/output error" "$FR/soft.err" || failures+=("soft mount: not EIO: $(head -c 100 "$FR/soft.err")")
((soft_ms <= (timeo + rto) * 1000 + margin)) || failures+=("soft mount: EIO after $soft_ms ms, bound $(((timeo + rto) * 1000 + margin)) ms")
echo "soft mount, link down: EIO after $soft_ms ms (timeo ${timeo} s + timeout ${rto} s)"

t0=$(now_ms)
with_timeout 120 dd if="$FR/v2" of="$FR/b/x" bs=4k conv=fsync status=none 2>"$FR/w.err" ||
	failures+=("b's write of x failed: $(head -c 100 "$FR/w.err")")
write_ms=$(($(now_ms) - t0))
((write_ms <= term * 3 / 2 + margin)) || failures+=("b's write waited $write_ms ms for the partitioned holder, bound $((term * 3 / 2 + margin)) ms")
echo "b's write to x, a partitioned holding its lease: $write_ms ms (lease term $term ms)"

# past the term: a may fail, or return the new bytes, never the old
while (($(now_ms) - t_part < term + 1000)); do sleep 0.2; done
stale=0 reads=0 t0=$(now_ms)
while (($(now_ms) - t0 < 3000)); do
	reads=$((reads + 1))
	if with_timeout 30 cat "$FR/a/x" >"$FR/got" 2>/dev/null && cmp -s "$FR/v1" "$FR/got"; then stale=$((stale + 1)); fi
	sleep 0.2
done
((stale == 0)) || failures+=("a served the old bytes of x $stale time(s) past the lease term")
echo "reads of x on a past the term: $reads, stale $stale"

link a up
t0=$(now_ms) ok=
while (($(now_ms) - t0 < 60000)); do
	with_timeout 30 cat "$FR/a/x" >"$FR/got" 2>/dev/null && cmp -s "$FR/v2" "$FR/got" && { ok=1; break; }
	sleep 0.2
done
heal_a_ms=$(($(now_ms) - t0))
[[ -n $ok ]] || failures+=("a did not read the new x within 60 s of the link coming back")
echo "a reads the new x $heal_a_ms ms after its link is back"

# ---- b partitioned: the hard mount blocks, then resumes ----
link b down
t0=$(now_ms)
with_timeout 120 sh -c 'echo hard >"$1"' sh "$FR/b/hard" 2>"$FR/hard.err" &
op=$!
sleep $((rto + timeo + 4))
if ! kill -0 "$op" 2>/dev/null; then
	wait "$op" && failures+=("a create on the partitioned hard mount completed while partitioned") ||
		failures+=("the hard mount failed a call while partitioned: $(head -c 100 "$FR/hard.err")")
fi
blocked_ms=$(($(now_ms) - t0))
link b up
t_up=$(now_ms)
if wait "$op"; then
	resume_ms=$(($(now_ms) - t_up))
	echo "hard mount: blocked $blocked_ms ms while partitioned, completed $resume_ms ms after the link came back"
	with_timeout 30 grep -qx hard "$FR/a/hard" 2>/dev/null || failures+=("what b wrote after the partition is not seen through a")
else
	resume_ms=-
	failures+=("the blocked call on the hard mount failed after the link came back: $(head -c 100 "$FR/hard.err")")
fi

figures="soft EIO after $soft_ms ms; b's write waited $write_ms ms (term $term ms); stale reads past the term $stale of $reads; a recovered in $heal_a_ms ms; hard mount blocked $blocked_ms ms, resumed $resume_ms ms after the link came back"
((${#failures[@]} == 0)) || result FAIL "$figures; ${failures[*]}"
result ok "$figures"
