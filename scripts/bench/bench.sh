#!/usr/bin/env bash
# bench.sh: the peer benchmark (workloads a-d of /work/shared/ANCHORS.md);
# see scripts/bench/README.md.
#
#   scripts/bench/bench.sh [--peers local,bindfs,sshfs,c9fs,c9fs-diod,diodcat] [--size-mb 1024]
#                          [--rounds 3] [--quick] [--only a,b,c,d,ls] [--work DIR] [--out FILE.tsv]
#
# Rounds go round-robin over the peers so slow drift (host caches, other
# tenants) spreads over all of them. Raw figures go to a TSV; a table of
# medians with ratios vs local and vs sshfs is printed at the end. Every mount
# and server started here is torn down on exit.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib/peers.sh
. "$here/../lib/peers.sh"

peers=local,bindfs,sshfs
size_mb=1024
mmap_mb=256
mmap_pages=8192
meta_files=2000
meta_bytes=100
ls_entries=5000
only=a,b,c,d,ls
rounds=3
work=/tmp/c9fs-scripts/bench
out=
step_timeout=1800       # one dd of 1 GiB at 1 MiB/s would still finish

usage() {
	sed -n '5,7p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

while (($#)); do
	case $1 in
	--peers) peers=$2; shift 2 ;;
	--size-mb) size_mb=$2; shift 2 ;;
	--rounds) rounds=$2; shift 2 ;;
	--only) only=$2; shift 2 ;;
	--quick) size_mb=256 mmap_mb=64 mmap_pages=2048 meta_files=1000 ls_entries=2000 rounds=1; shift ;;
	--ls-entries) ls_entries=$2; shift 2 ;;
	--work) work=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	*) usage ;;
	esac
done
for n in "$size_mb" "$rounds" "$ls_entries"; do [[ $n =~ ^[1-9][0-9]*$ ]] || usage; done
((mmap_mb * 256 >= mmap_pages)) || mmap_mb=$(((mmap_pages + 255) / 256))

mkdir -p "$work/mnt" "$work/bin" "$work/results"
export_dir=$work/export
out=${out:-$work/results/bench-$(date -u +%Y%m%d-%H%M%S).tsv}
trap peers_cleanup EXIT

# Whether workload $1 (a, b, c, d: create+stat+unlink, ls: d's ls -l) is to run.
wanted() { [[ ,$only, == *,$1,* ]]; }

log() { printf '%s bench: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

# An empty value means the step failed; keep that visible in the table instead of a zero.
record() {
	if [[ -z $4 ]]; then
		log "$2: $3 failed in round $1"
		printf '0\t%s\tnote\t%s failed in round %s\n' "$2" "$3" "$1" >>"$out"
	else
		printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$out"
	fi
}

build() {
	local prog
	command -v gcc >/dev/null || { echo "bench: gcc not found" >&2; exit 2; }
	for prog in mmaprand meta; do
		[[ $work/bin/$prog -nt $here/$prog.c ]] ||
			gcc -std=c99 -O2 -Wall -Wextra -o "$work/bin/$prog" "$here/$prog.c"
	done
}

# Random data, so no layer can compress or dedupe it; kept between runs when the size is right.
make_file() {
	local path=$1 mb=$2
	[[ -f $path && $(stat -c %s "$path") -eq $((mb << 20)) ]] && return 0
	log "writing $mb MiB of random data to $path"
	dd if=/dev/urandom of="$path" bs=1M count="$mb" status=none
}

prepare_export() {
	local d=$export_dir/.bench i
	mkdir -p "$d/ls"
	# Workload d creates its files in a new directory each run. On ext2/3/4 without a journal
	# (this VM's root), the inode allocator skips every inode of the group freed in the last
	# 60-360 s, reading its table block each time: after a few runs deleted thousands of files
	# in the parent's group, a create cost 0.5-0.8 ms of that scan (85% of a local create's CPU),
	# the same for every peer, and more for whichever peer ran later in the round. The Orlov
	# flag (chattr +T, "top of a directory hierarchy") spreads each new directory over the
	# groups instead; elsewhere it is ignored or refused, which is harmless.
	chattr +T "$d" 2>/dev/null || true
	! wanted a || make_file "$d/big.dat" "$size_mb"
	! wanted c || make_file "$d/mmap.dat" "$mmap_mb"
	if [[ $(find "$d/ls" -mindepth 1 -maxdepth 1 | wc -l) -ne $ls_entries ]]; then
		rm -rf "$d/ls"
		mkdir "$d/ls"
		for ((i = 0; i < ls_entries; i++)); do : >"$d/ls/e$i"; done
	fi
	sync
}

can_drop=1
drop_caches() {
	sync
	((can_drop)) && { echo 3 >/proc/sys/vm/drop_caches; } 2>/dev/null && return 0
	((can_drop)) && log "cannot drop caches (not root?): cold figures are not cold"
	can_drop=0
}

# MiB/s from dd's summary line ("N bytes (...) copied, S s, ..."); nothing if dd failed,
# since a partial copy would report a rate for less than the whole file.
dd_mibps() {
	local summary
	summary=$(LC_ALL=C timeout "$step_timeout" dd "$@" 2>&1 >/dev/null) || return 0
	awk '
		/ copied, / { for (i = 1; i <= NF; i++) if ($i == "s," || $i == "s") secs = $(i - 1); bytes = $1 }
		END { if (secs > 0) printf "%.1f\n", bytes / secs / 1048576 }' <<<"$summary"
}

seconds_of() {
	local t0 t1
	t0=$EPOCHREALTIME
	timeout "$step_timeout" "$@" >/dev/null || return 0
	t1=$EPOCHREALTIME
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f\n", b - a }'
}

# Picks key=value out of a one-line report.
field() { tr ' ' '\n' <<<"$1" | awk -F= -v k="$2" '$1 == k { print $2 }'; }

# diod's own client, no mount: the 9P2000.L read ceiling a FUSE client in front of diod could approach.
run_diodcat() {
	local round=$1 port t0 t1 temp
	port=$(server_port diod "$export_dir") || { record 0 diodcat skipped "diod did not start"; return 0; }
	log "round $round: diodcat"
	drop_caches
	for temp in cold warm; do
		t0=$EPOCHREALTIME
		timeout "$step_timeout" diodcat -m 1048576 -s "127.0.0.1:$port" -a "$export_dir" .bench/big.dat >/dev/null
		t1=$EPOCHREALTIME
		record "$round" diodcat "read_$temp" "$(awk -v a="$t0" -v b="$t1" -v mb="$size_mb" 'BEGIN { printf "%.1f\n", mb / (b - a) }')"
	done
}

run_peer() {
	local round=$1 peer=$2 dir r
	local mnt=$work/mnt/$peer
	if ! peer_mount "$peer" "$export_dir" "$mnt"; then
		record 0 "$peer" skipped "mount failed"
		return 0
	fi
	dir=$(peer_path "$peer" "$export_dir" "$mnt")/.bench
	log "round $round: $peer"

	if wanted a; then
		drop_caches
		peer_remount "$peer" "$export_dir" "$mnt"
		record "$round" "$peer" read_cold "$(dd_mibps if="$dir/big.dat" of=/dev/null bs=1M)"
		record "$round" "$peer" read_warm "$(dd_mibps if="$dir/big.dat" of=/dev/null bs=1M)"
	fi

	if wanted b; then
		record "$round" "$peer" write_fsync \
			"$(dd_mibps if=/dev/zero of="$dir/wr.tmp" bs=1M count="$size_mb" conv=fsync)"
		rm -f "$dir/wr.tmp"
	fi

	if wanted c; then
		drop_caches
		peer_remount "$peer" "$export_dir" "$mnt"
		r=$(timeout "$step_timeout" "$work/bin/mmaprand" -n "$mmap_pages" "$dir/mmap.dat") || true
		record "$round" "$peer" mmap_faults "$(field "$r" faults_per_s)"
		record "$round" "$peer" mmap_us "$(field "$r" us_per_fault)"
		[[ $(field "$r" mapping) != private ]] || record 0 "$peer" note "mmap used MAP_PRIVATE (shared: ENODEV)"
	fi

	if wanted d; then
		r=$(timeout "$step_timeout" "$work/bin/meta" "$dir" "$meta_files" "$meta_bytes") || true
		record "$round" "$peer" meta_files "$(field "$r" files_per_s)"
		record "$round" "$peer" meta_ops "$(field "$r" ops_per_s)"
		record "$round" "$peer" meta_create "$(field "$r" create_per_s)"
		record "$round" "$peer" meta_stat "$(field "$r" stat_per_s)"
		record "$round" "$peer" meta_unlink "$(field "$r" unlink_per_s)"
	fi

	if wanted ls; then
		drop_caches
		peer_remount "$peer" "$export_dir" "$mnt"
		record "$round" "$peer" ls_cold "$(seconds_of ls -l "$dir/ls")"
		record "$round" "$peer" ls_warm "$(seconds_of ls -l "$dir/ls")"
	fi

	peer_umount "$peer" "$mnt"
}

# Medians [min-max] per metric and peer; ratios are "fraction of the base's
# speed", so for lower-is-better metrics (us per fault, seconds) base/peer.
table() {
	sort -t $'\t' -k3,3 -k2,2 -k4,4g "$out" | awk -F'\t' -v peers="$peers" -v size="$size_mb" \
		-v mpages="$mmap_pages" -v mmb="$mmap_mb" -v nfiles="$meta_files" -v nls="$ls_entries" '
	function fmt(v) { return v >= 100 ? sprintf("%.0f", v) : v >= 10 ? sprintf("%.1f", v) : sprintf("%.3g", v) }
	function flush(   m) {
		if (n == 0) return
		m = n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
		med[key] = m; lo[key] = v[1]; hi[key] = v[n]; n = 0
	}
	$1 == "round" { next }
	$1 == 0 { if ($3 == "skipped" || $3 == "note") extra[$2] = extra[$2] (extra[$2] ? "; " : "") $4; next }
	{ k = $3 SUBSEP $2; if (k != key) { flush(); key = k }; v[++n] = $4 + 0 }
	END {
		flush()
		np = split(peers, P, ",")
		nm = split("read_cold read_warm write_fsync mmap_faults mmap_us meta_files meta_ops meta_create meta_stat meta_unlink ls_cold ls_warm", M, " ")
		L["read_cold"] = "a. seq read " size " MiB cold (MiB/s)"
		L["read_warm"] = "a. seq read " size " MiB warm (MiB/s)"
		L["write_fsync"] = "b. seq write " size " MiB + fsync (MiB/s)"
		L["mmap_faults"] = "c. mmap " mpages " random 4K faults/s (" mmb " MiB), cold"
		L["mmap_us"] = "c. us per fault"
		L["meta_files"] = "d. create+stat+unlink " nfiles ", files/s"
		L["meta_ops"] = "d. create+stat+unlink, ops/s (3 per file)"
		L["meta_create"] = "d. create (open+write+close)/s"
		L["meta_stat"] = "d. stat/s"
		L["meta_unlink"] = "d. unlink/s"
		L["ls_cold"] = "d. ls -l " nls " entries cold (s)"
		L["ls_warm"] = "d. ls -l " nls " entries warm (s)"
		lower["mmap_us"] = lower["ls_cold"] = lower["ls_warm"] = 1
		print "| metric | " join(P, np, " | ") " |"
		s = "|---"; for (p = 1; p <= np; p++) s = s "|---"; print s "|"
		for (i = 1; i <= nm; i++) {
			row = "| " L[M[i]]
			for (p = 1; p <= np; p++) row = row " | " cell(M[i], P[p])
			print row " |"
		}
		for (p = 1; p <= np; p++) if (extra[P[p]] != "") print "- " P[p] ": " extra[P[p]]
	}
	function join(a, n, sep,   s, i) { s = a[1]; for (i = 2; i <= n; i++) s = s sep a[i]; return s }
	function cell(m, p,   k, b, c, r) {
		k = m SUBSEP p
		if (!(k in med)) return "-"
		c = fmt(med[k]) " [" fmt(lo[k]) "-" fmt(hi[k]) "]"
		if (p != "local" && ((m SUBSEP "local") in med)) c = c " " ratio(m, p, "local") "L"
		if (p != "sshfs" && ((m SUBSEP "sshfs") in med)) c = c " " ratio(m, p, "sshfs") "S"
		return c
	}
	function ratio(m, p, base,   a, b) {
		a = med[m SUBSEP p]; b = med[m SUBSEP base]
		if (a <= 0 || b <= 0) return "?"
		return sprintf("%.2fx", lower[m] ? b / a : a / b)
	}'
}

build
printf 'round\tpeer\tmetric\tvalue\n' >"$out"
IFS=, read -r -a peer_list <<<"$peers"
runnable=()
for p in "${peer_list[@]}"; do
	if [[ $p == diodcat ]]; then
		if command -v diod >/dev/null && command -v diodcat >/dev/null; then
			runnable+=("$p")
		else
			record 0 "$p" skipped "diod or diodcat not installed"
		fi
	elif why=$(peer_missing "$p"); then
		log "skipping $p: $why"
		record 0 "$p" skipped "$why"
	else
		runnable+=("$p")
	fi
done
prepare_export
for ((round = 1; round <= rounds; round++)); do
	# Each round starts one peer later: no peer always runs right after another's writes,
	# deletions and dropped caches (the host file system's state carries over between peers).
	for ((k = 0; k < ${#runnable[@]}; k++)); do
		p=${runnable[$(((k + round - 1) % ${#runnable[@]}))]}
		# A peer that breaks mid-round (a mount that fails, a wedged server) costs that
		# peer its round, not the whole run: the subshell keeps errexit, the loop does not.
		set +e
		(
			set -e
			if [[ $p == diodcat ]]; then run_diodcat "$round"; else run_peer "$round" "$p"; fi
		)
		status=$?
		set -e
		if ((status != 0)); then
			log "$p: round $round aborted (status $status)"
			record 0 "$p" note "round $round aborted"
			[[ $p == diodcat ]] || peer_umount "$p" "$work/mnt/$p" || true
		fi
	done
done

echo
echo "Medians over $rounds round(s) [min-max]; NL = fraction of local's speed, NS = of sshfs's (1.00x = as fast)."
echo "Raw: $out"
echo
table | tee "${out%.tsv}.md"
