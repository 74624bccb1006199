# shellcheck shell=bash
# peers.sh: start, mount and tear down the file systems that c9fs is compared
# with, and c9fs itself. Source it; it defines functions only.
#
#   peer_missing PEER            prints why PEER cannot run here; status 1 if it can
#   peer_mount PEER EXPORT MNT   serves EXPORT (starting a server if PEER needs one) and mounts it on MNT
#   peer_umount PEER MNT         unmounts MNT (servers stay up for the next mount)
#   peer_remount PEER EXPORT MNT peer_umount then peer_mount: drops the client's caches
#   peer_path PEER EXPORT MNT    the directory to use: EXPORT for "local", MNT otherwise
#   peers_cleanup                unmounts everything mounted and stops every server started here
#
# PEER is one of: local bindfs sshfs c9fs c9fs-diod. Servers are started once
# per EXPORT and reused; every wait is bounded with timeout(1). Callers should
# `trap peers_cleanup EXIT`.
#
# Environment (all optional):
#   C9FS_ROOT          the c9fs checkout (default: two levels above this file)
#   C9FS_SERVE         c9fs server command (default: $C9FS_ROOT/bin/c9fs-serve, else
#                      java -jar $C9FS_ROOT/server/target/c9fs-serve.jar)
#   C9FS_MOUNT         c9fs mount command  (default: $C9FS_ROOT/bin/c9fs-mount)
#   C9FS_MOUNT_OPTS    extra "-o" options for c9fs-mount against c9fs-serve
#   C9FS_DIOD_OPTS     "-o" options for c9fs-mount against diod (default: aname=EXPORT)
#   PEERS_STATE        what this shell started (default: /tmp/c9fs-scripts/peers.PID)
#   PEERS_SSH_DIR      private sshd config and keys (default: /tmp/c9fs-scripts/ssh)
#   PEERS_SSH_PORT     private sshd port on 127.0.0.1 (default: 2222)

PEERS_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
C9FS_ROOT=${C9FS_ROOT:-$(cd "$PEERS_LIB_DIR/../.." && pwd)}
C9FS_SERVE=${C9FS_SERVE:-$C9FS_ROOT/bin/c9fs-serve}
C9FS_MOUNT=${C9FS_MOUNT:-$C9FS_ROOT/bin/c9fs-mount}
PEERS_STATE=${PEERS_STATE:-/tmp/c9fs-scripts/peers.$$}
PEERS_SSH_DIR=${PEERS_SSH_DIR:-/tmp/c9fs-scripts/ssh}
PEERS_SSH_PORT=${PEERS_SSH_PORT:-2222}
PEERS_TIMEOUT=${PEERS_TIMEOUT:-20}

peers_log() { printf 'peers: %s\n' "$*" >&2; }

# ---- bookkeeping: what we started, so cleanup touches nothing else ----

peers_state_init() { mkdir -p "$PEERS_STATE"; touch "$PEERS_STATE/mounts" "$PEERS_STATE/servers"; }

peers_note_mount() { peers_state_init; printf '%s %s\n' "$1" "$2" >>"$PEERS_STATE/mounts"; }

peers_forget_mount() {
	local mnt=$1 tmp
	tmp=$(mktemp "$PEERS_STATE/mounts.XXXXXX")
	awk -v m="$mnt" '$2 != m' "$PEERS_STATE/mounts" >"$tmp" || true
	mv "$tmp" "$PEERS_STATE/mounts"
}

# servers: one line "KIND EXPORT PID PORT"
peers_server_line() { awk -v k="$1" -v e="$2" '$1 == k && $2 == e' "$PEERS_STATE/servers" 2>/dev/null | tail -n 1; }

# From /proc/self/mountinfo, not mountpoint(1): stat() on a wedged FUSE mount never returns.
mount_field() { awk -v m="${1%/}" -v f="$2" '$5 == m { v = $f } END { if (v == "") exit 1; print v }' /proc/self/mountinfo; }

is_mounted() { mount_field "$1" 5 >/dev/null; }

# Last resort for a FUSE daemon that stopped answering: abort its connection
# (/sys/fs/fuse/connections/N, N = the mount's minor device number), which fails
# every pending and future request on it so the unmount can proceed.
fuse_abort() {
	local dev conn
	dev=$(mount_field "$1" 3) || return 0
	conn=/sys/fs/fuse/connections/${dev#*:}
	is_mounted /sys/fs/fuse/connections || mount -t fusectl none /sys/fs/fuse/connections 2>/dev/null || true
	[[ -w $conn/abort ]] || return 0
	peers_log "aborting FUSE connection ${dev#*:} of $1"
	echo 1 >"$conn/abort"
}

# Waits (bounded) until something listens on 127.0.0.1:PORT; gives up early if PID exits.
wait_port() {
	local port=$1 pid=${2:-} i
	for ((i = 0; i < PEERS_TIMEOUT * 10; i++)); do
		ss -Hltn "sport = :$port" 2>/dev/null | grep -q . && return 0
		[[ -z $pid ]] || kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# A port nobody listens on; the window until the server binds it is tiny and only ours.
free_port() {
	local port
	for ((port = 20000 + RANDOM % 20000; ; port++)); do
		ss -Hltn "sport = :$port" | grep -q . || { echo "$port"; return 0; }
	done
}

# ---- private sshd on 127.0.0.1, key-only, everything under PEERS_SSH_DIR ----

sshd_setup() {
	local d=$PEERS_SSH_DIR
	mkdir -p "$d"
	chmod 700 "$d"
	[[ -f $d/host_ed25519 ]] || ssh-keygen -q -t ed25519 -N '' -f "$d/host_ed25519"
	[[ -f $d/id_ed25519 ]] || ssh-keygen -q -t ed25519 -N '' -f "$d/id_ed25519"
	cp "$d/id_ed25519.pub" "$d/authorized_keys"
	# StrictModes off: the keys live under /tmp, whose permissions sshd would refuse.
	cat >"$d/sshd_config" <<-EOF
		Port $PEERS_SSH_PORT
		ListenAddress 127.0.0.1
		HostKey $d/host_ed25519
		PidFile $d/sshd.pid
		AuthorizedKeysFile $d/authorized_keys
		PasswordAuthentication no
		KbdInteractiveAuthentication no
		PermitRootLogin prohibit-password
		StrictModes no
		UsePAM no
		Subsystem sftp /usr/lib/openssh/sftp-server
	EOF
	mkdir -p /run/sshd   # privilege-separation directory sshd insists on
}

sshd_running() { [[ -f $PEERS_SSH_DIR/sshd.pid ]] && kill -0 "$(cat "$PEERS_SSH_DIR/sshd.pid")" 2>/dev/null; }

sshd_start() {
	sshd_running && return 0
	sshd_setup
	timeout "$PEERS_TIMEOUT" /usr/sbin/sshd -f "$PEERS_SSH_DIR/sshd_config" || return 1
	wait_port "$PEERS_SSH_PORT" || { peers_log "sshd did not listen on $PEERS_SSH_PORT"; return 1; }
	peers_state_init
	echo "sshd - $(cat "$PEERS_SSH_DIR/sshd.pid") $PEERS_SSH_PORT" >>"$PEERS_STATE/servers"
}

sshd_stop() {
	sshd_running || return 0
	kill "$(cat "$PEERS_SSH_DIR/sshd.pid")" 2>/dev/null || true
	rm -f "$PEERS_SSH_DIR/sshd.pid"
}

# ---- 9P servers: c9fs-serve and diod, one per export, reused across remounts ----

C9FS_SERVE_JAR=$C9FS_ROOT/server/target/c9fs-serve.jar

c9fs_serve_found() { [[ -x $C9FS_SERVE ]] || { [[ -f $C9FS_SERVE_JAR ]] && command -v java >/dev/null; }; }

c9fs_serve() {
	if [[ -x $C9FS_SERVE ]]; then
		exec "$C9FS_SERVE" "$@"
	else
		exec java -jar "$C9FS_SERVE_JAR" "$@"
	fi
}

# Prints the port of a running KIND server for EXPORT, starting one if needed.
server_port() {
	local kind=$1 tree=$2 line port pid
	peers_state_init
	line=$(peers_server_line "$kind" "$tree")
	if [[ -n $line ]] && kill -0 "$(awk '{print $3}' <<<"$line")" 2>/dev/null; then
		awk '{print $4}' <<<"$line"
		return 0
	fi
	port=$(free_port)
	case $kind in
	c9fs-serve) c9fs_serve --export "$tree" --listen "127.0.0.1:$port" \
			</dev/null >"$PEERS_STATE/c9fs-serve.$port.log" 2>&1 &
		;;
	diod) diod -f -n -l "127.0.0.1:$port" -e "$tree" -L "$PEERS_STATE/diod.$port.log" </dev/null \
			>/dev/null 2>&1 &
		;;
	esac
	pid=$!
	echo "$kind $tree $pid $port" >>"$PEERS_STATE/servers"
	if ! wait_port "$port" "$pid"; then
		peers_log "$kind did not listen on 127.0.0.1:$port (log: $PEERS_STATE/*.$port.log)"
		return 1
	fi
	echo "$port"
}

# ---- peers ----

peer_missing() {
	local peer=$1 t
	case $peer in
	local) return 1 ;;
	bindfs) command -v bindfs >/dev/null || { echo "bindfs not installed"; return 0; } ;;
	sshfs)
		for t in sshfs ssh-keygen /usr/sbin/sshd /usr/lib/openssh/sftp-server; do
			command -v "$t" >/dev/null || { echo "$t not installed (apt-get install sshfs openssh-server)"; return 0; }
		done
		;;
	c9fs | c9fs-diod)
		[[ $peer == c9fs-diod ]] || c9fs_serve_found || { echo "neither $C9FS_SERVE nor $C9FS_SERVE_JAR built"; return 0; }
		[[ -x $C9FS_MOUNT ]] || { echo "$C9FS_MOUNT not built"; return 0; }
		[[ $peer == c9fs ]] || command -v diod >/dev/null || { echo "diod not installed"; return 0; }
		;;
	*) echo "unknown peer '$peer'"; return 0 ;;
	esac
	[[ -e /dev/fuse ]] || { echo "/dev/fuse missing"; return 0; }
	return 1
}

# The detached c9fs-mount daemon writes here; kept with the other state for post-mortems.
mount_log() { peers_state_init; echo "$PEERS_STATE/c9fs-mount.${1//\//_}.log"; }

peer_path() { if [[ $1 == local ]]; then echo "$2"; else echo "$3"; fi; }

peer_mount() {
	local peer=$1 tree=$2 mnt=$3 port
	[[ $peer == local ]] && return 0
	mkdir -p "$mnt"
	is_mounted "$mnt" && { peers_log "$mnt is already a mount point"; return 1; }
	case $peer in
	bindfs) timeout "$PEERS_TIMEOUT" bindfs "$tree" "$mnt" ;;
	sshfs)
		sshd_start || return 1
		timeout "$PEERS_TIMEOUT" sshfs \
			-o "IdentityFile=$PEERS_SSH_DIR/id_ed25519,StrictHostKeyChecking=no,UserKnownHostsFile=/dev/null" \
			-o "port=$PEERS_SSH_PORT,LogLevel=ERROR" "root@127.0.0.1:$tree" "$mnt"
		;;
	c9fs)
		port=$(server_port c9fs-serve "$tree") || return 1
		timeout "$PEERS_TIMEOUT" "$C9FS_MOUNT" "127.0.0.1:$port" "$mnt" -o "log=$(mount_log "$mnt")" \
			${C9FS_MOUNT_OPTS:+-o "$C9FS_MOUNT_OPTS"}
		;;
	c9fs-diod)
		port=$(server_port diod "$tree") || return 1
		timeout "$PEERS_TIMEOUT" "$C9FS_MOUNT" "127.0.0.1:$port" "$mnt" -o "log=$(mount_log "$mnt")" \
			-o "${C9FS_DIOD_OPTS:-aname=$tree}"
		;;
	*) peers_log "unknown peer '$peer'"; return 1 ;;
	esac || { peers_log "mounting $peer on $mnt failed"; return 1; }
	peers_note_mount "$peer" "$mnt"
	is_mounted "$mnt" || { peers_log "$peer: $mnt is not a mount point after mounting"; return 1; }
}

# Polite unmount first; lazy detach only if the mount is still busy or wedged.
peer_umount() {
	local peer=$1 mnt=$2
	[[ $peer == local ]] && return 0
	if is_mounted "$mnt"; then
		case $peer in
		c9fs | c9fs-diod) timeout "$PEERS_TIMEOUT" "$C9FS_MOUNT" -u "$mnt" ;;
		*) timeout "$PEERS_TIMEOUT" umount "$mnt" ;;
		esac 2>/dev/null || timeout "$PEERS_TIMEOUT" umount "$mnt" 2>/dev/null || {
			peers_log "$mnt busy or not answering: aborting and detaching lazily"
			fuse_abort "$mnt"
			timeout "$PEERS_TIMEOUT" fusermount3 -uz "$mnt" 2>/dev/null || timeout "$PEERS_TIMEOUT" umount -l "$mnt"
		}
	fi
	peers_forget_mount "$mnt"
}

peer_remount() { peer_umount "$1" "$3" && peer_mount "$@"; }

peers_cleanup() {
	local peer mnt kind tree pid port
	[[ -d $PEERS_STATE ]] || return 0
	while read -r peer mnt; do
		[[ -n $mnt ]] && peer_umount "$peer" "$mnt"
	done < <(cat "$PEERS_STATE/mounts" 2>/dev/null)
	while read -r kind tree pid port; do
		case $kind in
		sshd) sshd_stop ;;
		*)
			# a wrapper script that does not exec leaves the server as its child
			pkill -P "$pid" 2>/dev/null || true
			kill "$pid" 2>/dev/null && timeout 5 tail --pid="$pid" -f /dev/null || kill -9 "$pid" 2>/dev/null || true
			;;
		esac
	done < <(cat "$PEERS_STATE/servers" 2>/dev/null)
	# server and mount logs stay for post-mortems; the directory goes if there are none
	rm -f "$PEERS_STATE/mounts" "$PEERS_STATE/servers"
	rmdir "$PEERS_STATE" 2>/dev/null || true
}
