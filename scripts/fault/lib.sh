# shellcheck shell=bash
# lib.sh: what the fault scenarios share. Source it, then call fault_init NAME.
#
#   fault_init NAME          scratch dir ($FR: export/ a/ b/ logs/ j/), jars copied, C tools
#                            built, trap fault_cleanup EXIT; exits 3 (skip) or 1 (CI=true) when
#                            c9fs cannot run here
#   need_mount_option OPT    the same exit when c9fs-mount has no option OPT (e.g. hard: the
#                            reconnect work); prints "skip: needs ..."
#   serve_start [ARGS]       c9fs-serve --export $FR/export on 127.0.0.1:$SERVE_PORT (the same
#                            port across restarts); sets SERVE_PID
#   serve_kill               SIGKILL the server and reap it
#   proxy_start NAME         a faultproxy in front of the server; sets PROXY_PORT_NAME
#   proxy_mode NAME MODE..   writes the proxy's control file
#   proxy_stat NAME KEY      one figure from the proxy's stats file
#   mount_side SIDE PORT [OPTS]  c9fs-mount 127.0.0.1:PORT on $FR/SIDE (SIDE: a or b)
#   daemon_pid SIDE          the pid of SIDE's c9fs-mount daemon (empty if none)
#   with_timeout S CMD...    CMD bounded by S seconds (SIGKILL 5 s later)
#   result ok|FAIL|skip TEXT the scenario's last line; exit status 0, 1, 3
#
# Every process, mount and directory made here is undone by fault_cleanup, lazy unmount last.
# Environment: C9FS_ROOT, C9FS_SERVE_JAR, C9FS_MOUNT_JAR (default: the newest built jars),
# CI (true: a missing requirement is a failure, not a skip), FAULT_KEEP=1 keeps $FR.

FAULT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
C9FS_ROOT=${C9FS_ROOT:-$(cd "$FAULT_DIR/../.." && pwd)}
# shellcheck source=../lib/peers.sh
. "$FAULT_DIR/../lib/peers.sh"   # is_mounted, fuse_abort, free_port, wait_port

FAULT_T=30            # seconds: the bound on a server start, a mount or an unmount
FR=
SERVE_PID=
SERVE_PORT=
declare -A PROXY_PID=()
FAULT_MOUNTS=()
DAEMON_PIDS=()
FAULT_TMPFS=
FAULT_HOOKS=()   # commands run last by fault_cleanup (e.g. deleting network namespaces)

flog() { printf '%s: %s\n' "${FAULT_NAME:-fault}" "$*" >&2; }

result() {
	local verdict=$1
	shift
	echo "$verdict $FAULT_NAME: $*"
	case $verdict in
	ok) exit 0 ;;
	skip) exit 3 ;;
	*) exit 1 ;;
	esac
}

# Missing requirement: a skip with the reason, or a failure under CI=true.
cannot_run() {
	if [[ ${CI:-} == true ]]; then
		result FAIL "cannot run: $*"
	fi
	result skip "$*"
}

newest_jar() {
	find "$C9FS_ROOT/$1" -maxdepth 2 -path "$C9FS_ROOT/$1/target*/$2" -printf '%T@ %p\n' 2>/dev/null |
		sort -rn | head -n 1 | cut -d' ' -f2-
}

# Builds the C tools once per source version (like scripts/coherence-test); sets FAULTPROXY, CHAOSLOAD.
fault_build() {
	local cache hash src tmp
	cache=${C9FS_CACHE:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/c9fs}/fault
	hash=$(cat "$FAULT_DIR"/*.c | sha256sum | cut -c1-16)
	mkdir -p "$cache/$hash"
	for src in faultproxy chaosload; do
		if [[ ! -x $cache/$hash/$src ]]; then
			tmp=$(mktemp "$cache/$hash/$src.XXXXXX")
			gcc -std=c99 -O2 -Wall -Wextra -o "$tmp" "$FAULT_DIR/$src.c" || { rm -f "$tmp"; return 1; }
			mv -f "$tmp" "$cache/$hash/$src"
		fi
	done
	FAULTPROXY=$cache/$hash/faultproxy
	CHAOSLOAD=$cache/$hash/chaosload
}

fault_init() {
	FAULT_NAME=$1
	local serve_jar mount_jar missing= t
	serve_jar=${C9FS_SERVE_JAR:-$(newest_jar server c9fs-serve.jar)}
	mount_jar=${C9FS_MOUNT_JAR:-$(newest_jar fuse-mount c9fs-mount.jar)}
	[[ -f $serve_jar ]] || missing+=" server/target*/c9fs-serve.jar (mvn -pl server -am package)"
	[[ -f $mount_jar ]] || missing+=" fuse-mount/target*/c9fs-mount.jar (mvn -pl fuse-mount -am package)"
	for t in java gcc ss timeout fusermount3; do command -v "$t" >/dev/null || missing+=" $t"; done
	[[ -e /dev/fuse ]] || missing+=" /dev/fuse"
	((EUID == 0)) || missing+=" root"
	[[ -z $missing ]] || cannot_run "missing:$missing"
	FR=$(mktemp -d "/tmp/c9fs-fault.$FAULT_NAME.XXXXXX")
	trap fault_cleanup EXIT
	# a TERM (run-all's timeout) must still tear everything down
	trap 'exit 143' TERM INT
	mkdir -p "$FR/export" "$FR/a" "$FR/b" "$FR/logs" "$FR/j" "$FR/jars"
	chmod 755 "$FR" "$FR/export"
	# copies: a rebuild by someone else must not replace a jar under a running JVM
	cp "$serve_jar" "$FR/jars/c9fs-serve.jar"
	cp "$mount_jar" "$FR/jars/c9fs-mount.jar"
	export C9FS_SERVE_JAR=$FR/jars/c9fs-serve.jar C9FS_MOUNT_JAR=$FR/jars/c9fs-mount.jar
	C9FS_SERVE=$C9FS_ROOT/bin/c9fs-serve
	C9FS_MOUNT=$C9FS_ROOT/bin/c9fs-mount
	fault_build || result FAIL "compiling the C tools failed"
	SERVE_PORT=$(free_port)
	SERVE_ROBUST=
	if serve_has state-dir; then SERVE_ROBUST=1; mkdir -p "$FR/state"; fi
}

# need_mount_option OPT [WHAT]: c9fs-mount's usage lists OPT, or the scenario cannot run.
need_mount_option() {
	"$C9FS_MOUNT" --help 2>&1 | grep -qE "^ +$1([= ]|$)" ||
		cannot_run "needs ${2:-reconnect}: c9fs-mount has no -o $1"
}

# need_serve_option OPT [WHAT]: c9fs-serve accepts --OPT (its usage lists it).
need_serve_option() {
	"$C9FS_SERVE" --help 2>&1 | grep -q -- "--$1" ||
		cannot_run "needs ${2:-server-robust}: c9fs-serve has no --$1"
}

with_timeout() { local s=$1; shift; timeout -k 5 "$s" "$@"; }

# The options of the robust server (branch server-robust), when this build has them: lock state
# kept in the scratch dir, so a restarted server gives the grace its clients reclaim in.
serve_has() { "$C9FS_SERVE" --help 2>&1 | grep -q -- "--$1"; }

serve_start() {
	local extra=()
	[[ -n ${SERVE_ROBUST:-} ]] && extra=(--state-dir "$FR/state")
	"$C9FS_SERVE" --export "$FR/export" --listen "127.0.0.1:$SERVE_PORT" ${extra[@]+"${extra[@]}"} "$@" \
		</dev/null >>"$FR/logs/serve.log" 2>&1 &
	SERVE_PID=$!
	PEERS_TIMEOUT=$FAULT_T wait_port "$SERVE_PORT" "$SERVE_PID" || { flog "c9fs-serve did not listen (logs/serve.log)"; return 1; }
}

serve_kill() {
	[[ -n $SERVE_PID ]] || return 0
	kill -9 "$SERVE_PID" 2>/dev/null || true
	wait "$SERVE_PID" 2>/dev/null || true
	SERVE_PID=
}

serve_alive() { [[ -n $SERVE_PID ]] && kill -0 "$SERVE_PID" 2>/dev/null; }

# proxy_start NAME [LIFETIME]: sets PROXY_PORT (and PROXY_PID[NAME])
proxy_start() {
	local name=$1 life=${2:-900} i
	echo pass >"$FR/proxy.$name.ctl"
	"$FAULTPROXY" -t "127.0.0.1:$SERVE_PORT" -c "$FR/proxy.$name.ctl" -p "$FR/proxy.$name.port" \
		-s "$FR/proxy.$name.stats" -L "$life" </dev/null >>"$FR/logs/proxy.$name.log" 2>&1 &
	PROXY_PID[$name]=$!
	for ((i = 0; i < 100; i++)); do
		[[ -s $FR/proxy.$name.port ]] && break
		sleep 0.05
	done
	PROXY_PORT=$(cat "$FR/proxy.$name.port" 2>/dev/null) || { flog "faultproxy $name did not start"; return 1; }
}

# The proxy polls its control file every 50 ms; a rename makes the change atomic.
proxy_mode() {
	local name=$1
	shift
	echo "$*" >"$FR/proxy.$name.ctl.tmp"
	mv -f "$FR/proxy.$name.ctl.tmp" "$FR/proxy.$name.ctl"
	sleep 0.15
}

proxy_stat() { awk -v k="$2" '$1 == k { print $2 }' "$FR/proxy.$1.stats" 2>/dev/null || echo 0; }

proxy_alive() { kill -0 "${PROXY_PID[$1]}" 2>/dev/null; }

# mount_side SIDE PORT [OPTS]
mount_side() {
	local side=$1 port=$2 opts=${3:-}
	with_timeout "$FAULT_T" "$C9FS_MOUNT" "127.0.0.1:$port" "$FR/$side" -o "log=$FR/logs/mount.$side.log" \
		${opts:+-o "$opts"} || { flog "mounting $side failed (logs/mount.$side.log)"; return 1; }
	FAULT_MOUNTS+=("$FR/$side")
	DAEMON_PIDS+=("$(daemon_pid "$side")")
	is_mounted "$FR/$side"
}

# The detached daemon runs `io.c9fs.mount.Main -f ADDRESS MOUNTPOINT ...`; our mountpoints are unique.
daemon_pid() { pgrep -f -- "io\.c9fs\.mount\.Main .*$FR/$1( |\$)" | head -n 1; }

unmount_side() {
	local mnt=$1
	is_mounted "$mnt" || return 0
	with_timeout "$FAULT_T" "$C9FS_MOUNT" -u "$mnt" 2>/dev/null ||
		with_timeout 10 umount "$mnt" 2>/dev/null || {
		flog "$mnt busy or not answering: aborting and detaching lazily"
		fuse_abort "$mnt"
		with_timeout 10 umount -l "$mnt" 2>/dev/null || true
	}
}

# shellcheck disable=SC2317 # called through the trap
fault_cleanup() {
	local rc=$? m name
	set +e
	# children first (loads, background jobs), then the proxies, mounts, the server
	# a load's own children too (chaosload forks its workers): a killed parent leaves them
	# running, or blocked on a mount, past the scenario
	for m in $(jobs -p); do
		[[ $m == "$SERVE_PID" ]] && continue
		pkill -TERM -P "$m" 2>/dev/null
		kill "$m" 2>/dev/null
	done
	for name in "${!PROXY_PID[@]}"; do kill "${PROXY_PID[$name]}" 2>/dev/null; done
	for m in "${FAULT_MOUNTS[@]}"; do unmount_side "$m"; done
	for m in "${FAULT_MOUNTS[@]}"; do is_mounted "$m" && with_timeout 10 umount -l "$m" 2>/dev/null; done
	# a daemon that outlived its unmount (ours: started by mount_side)
	for m in "${DAEMON_PIDS[@]}"; do
		[[ -n $m ]] || continue
		with_timeout 10 tail --pid="$m" -f /dev/null 2>/dev/null || kill -9 "$m" 2>/dev/null
	done
	if [[ -n $SERVE_PID ]]; then
		kill "$SERVE_PID" 2>/dev/null && with_timeout 10 tail --pid="$SERVE_PID" -f /dev/null || kill -9 "$SERVE_PID" 2>/dev/null
	fi
	[[ -n $FAULT_TMPFS ]] && { with_timeout 10 umount "$FAULT_TMPFS" 2>/dev/null || with_timeout 10 umount -l "$FAULT_TMPFS"; }
	# anything that ignored SIGTERM
	for m in $(jobs -p); do pkill -KILL -P "$m" 2>/dev/null; kill -9 "$m" 2>/dev/null; done
	wait 2>/dev/null
	for m in "${FAULT_HOOKS[@]}"; do eval "$m"; done
	if [[ -n $FR && -d $FR && $rc != 0 && $rc != 3 ]]; then
		# the evidence, in the output itself: CI removes the scratch dir
		for m in "$FR"/logs/*.log; do
			[[ -s $m ]] || continue
			echo "---- tail of ${m##*/}"
			grep -v $'^\tat \|^\s*\.\.\. [0-9]* more' "$m" | tail -n 12 | cut -c1-300
		done
	fi
	if [[ -n $FR && -d $FR ]]; then
		if [[ ${FAULT_KEEP:-} == 1 || ($rc != 0 && $rc != 3 && -z ${CI:-}) ]]; then
			flog "kept $FR (logs/)"
		else
			# never descend into a mount that is somehow still there
			for m in "${FAULT_MOUNTS[@]}"; do is_mounted "$m" && { flog "$m still mounted: $FR kept"; return; }; done
			rm -rf "$FR"
		fi
	fi
}

# ms since the epoch
now_ms() { date +%s%3N; }

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else print int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
