#!/usr/bin/env bash
# kill-restart: chaosload runs across two hard mounts while c9fs-serve is killed with SIGKILL
# three times and restarted on the same port and export. Afterwards the checker must pass (no
# acknowledged write lost, no torn page, no corrupt block, no process hung past the bound);
# the recovery time after each restart (server listening again -> a write through one mount
# read back through the other) is reported, with its median. Needs the reconnecting client
# (c9fs-mount -o hard, branch reconnect). docs/fault-injection.md.
set -euo pipefail
. "$(dirname "$(readlink -f "$0")")/lib.sh"
fault_init kill-restart
need_mount_option hard reconnect
secs=${FAULT_LOAD_SECS:-45}
kills=3
term=5000
serve_start --lease-term "$term" || result FAIL "c9fs-serve did not start"
mount_side a "$SERVE_PORT" hard,timeout=12 || result FAIL "mounting a failed"
mount_side b "$SERVE_PORT" hard,timeout=12 || result FAIL "mounting b failed"

"$CHAOSLOAD" run -a "$FR/a" -b "$FR/b" -j "$FR/j" -t "$secs" -g 60 >"$FR/logs/chaosload.out" 2>&1 &
load=$!

# A write through one mount read back through the other: the mounts work again.
n=0
works() {
	n=$((n + 1))
	with_timeout 30 sh -c 'echo "$1" >"$2" && [ "$(cat "$3")" = "$1" ]' sh "probe $n" "$FR/a/probe.$n" "$FR/b/probe.$n" 2>/dev/null
}

recoveries=() outages=()
sleep 8
for ((k = 1; k <= kills; k++)); do
	t_kill=$(now_ms)
	serve_kill
	sleep "1.$((RANDOM % 10))"
	serve_start --lease-term "$term" || result FAIL "c9fs-serve did not restart after kill $k"
	t_up=$(now_ms)
	ok=
	while (($(now_ms) - t_up < 90000)); do
		works && { ok=1; break; }
		sleep 0.2
	done
	[[ -n $ok ]] || result FAIL "the mounts did not recover within 90 s of restart $k"
	recoveries+=($(($(now_ms) - t_up)))
	outages+=($((t_up - t_kill)))
	echo "kill $k: server down $((t_up - t_kill)) ms, mounts working again ${recoveries[-1]} ms after the restart"
	((k < kills)) && sleep 6
done

# chaosload bounds itself (SECONDS + 60 s grace, then it reports hung processes and kills them)
load_rc=0
wait "$load" || load_rc=$?
cat "$FR/logs/chaosload.out"
for p in "${DAEMON_PIDS[@]}"; do kill -0 "$p" 2>/dev/null || result FAIL "a c9fs-mount daemon died"; done
check_rc=0
"$CHAOSLOAD" check -e "$FR/export/chaos" -j "$FR/j" -k "$kills" >"$FR/logs/check.out" 2>&1 || check_rc=$?
cat "$FR/logs/check.out"
med=$(printf '%s\n' "${recoveries[@]}" | median)
figures="$kills kills, recovery ${recoveries[*]} ms (median $med ms); $(grep '^figures:' "$FR/logs/check.out" | sed 's/^figures: //')"
((load_rc == 0 && check_rc == 0)) || result FAIL "$figures (chaosload $load_rc, check $check_rc)"
result ok "$figures"
