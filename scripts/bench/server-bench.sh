#!/bin/sh
# Server benchmark: c9fs-serve beside diod over the same export, same run, same client.
# For each server: ServerBench (the c9fs 9P2000.L client, msize 1 MiB: sequential read at queue
# depth 1 and 4, write+fsync, getattr and walk+clunk rates) and diodcat -m 1048576 reading the
# same file. Prints every figure and the c9fs/diod ratio (higher is better for c9fs).
# Usage: scripts/bench/server-bench.sh [rounds=1] [fileMiB=1024] [writeMiB=256]
# Needs diod and diodcat. Scratch lives in /tmp/c9fs-server/bench/ (the big file is kept for reruns).
set -eu
cd "$(dirname "$0")/../.."
ROUNDS=${1:-1}
FILE_MIB=${2:-1024}
WRITE_MIB=${3:-256}
BUILD=${C9FS_BUILD:-target-server}
OUT=/tmp/c9fs-server/bench
EXPORT=$OUT/export
mkdir -p "$EXPORT"

mvn -q -o -Dc9fs.build="$BUILD" -pl server -am test-compile dependency:build-classpath \
    -Dmdep.outputFile="$OUT/cp.txt" -Dmdep.includeScope=test >/dev/null
CP="server/$BUILD/classes:server/$BUILD/test-classes:transport/$BUILD/classes:transport/$BUILD/test-classes:$(cat "$OUT/cp.txt")"

if [ ! -f "$EXPORT/big.dat" ] || [ "$(stat -c %s "$EXPORT/big.dat")" -ne $((FILE_MIB * 1048576)) ]; then
	head -c $((FILE_MIB * 1048576)) /dev/urandom >"$EXPORT/big.dat"
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
	i=0
	while ! python3 -c "import socket; socket.create_connection(('127.0.0.1',$1),0.2)" 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 100 ] || { echo "server-bench: nothing listens on port $1" >&2; exit 1; }
		sleep 0.1
	done
}

C9_PID=
DIOD_PID=
cleanup() {
	[ -z "$C9_PID" ] || kill "$C9_PID" 2>/dev/null || true
	[ -z "$DIOD_PID" ] || kill "$DIOD_PID" 2>/dev/null || true
	wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

C9_PORT=$(free_port)
java -Xmx1g -cp "$CP" io.c9fs.server.Main --export "$EXPORT" --listen "127.0.0.1:$C9_PORT" \
	>"$OUT/c9fs-serve.log" 2>&1 &
C9_PID=$!
DIOD_PORT=$(free_port)
diod -f -n -c /dev/null -L stderr -l "127.0.0.1:$DIOD_PORT" -e "$EXPORT" >"$OUT/diod.log" 2>&1 &
DIOD_PID=$!
wait_port "$C9_PORT"
wait_port "$DIOD_PORT"

RESULTS=$OUT/results.tsv
: >"$RESULTS"
diodcat_rate() {
	t0=$(date +%s%N)
	diodcat -m 1048576 -s "127.0.0.1:$1" -a "$EXPORT" big.dat >/dev/null
	t1=$(date +%s%N)
	echo "$FILE_MIB $t0 $t1" | awk '{ printf "%.1f", $1 / (($3 - $2) / 1e9) }'
}
round=1
while [ $round -le "$ROUNDS" ]; do
	for server in c9fs diod; do
		if [ $server = c9fs ]; then port=$C9_PORT; else port=$DIOD_PORT; fi
		java -Xmx512m -cp "$CP" io.c9fs.server.bench.ServerBench "127.0.0.1:$port" "$EXPORT" big.dat 3 "$WRITE_MIB" |
			while read -r metric value unit; do
				printf '%s\t%s\t%s\t%s\t%s\n' "$round" "$server" "$metric" "$value" "$unit" >>"$RESULTS"
			done
		diodcat_rate "$port" >/dev/null # warm the page cache and the server
		printf '%s\t%s\t%s\t%s\t%s\n' "$round" "$server" diodcat_read "$(diodcat_rate "$port")" MiB/s >>"$RESULTS"
	done
	round=$((round + 1))
done

echo "server-bench: $FILE_MIB MiB file, $WRITE_MIB MiB write, $ROUNDS round(s), median per metric; raw: $RESULTS"
awk -F'\t' '
	{ v[$3, $2] = v[$3, $2] " " $4; u[$3] = $5; if (!($3 in seen)) { seen[$3] = 1; order[++n] = $3 } }
	function median(s,   a, k, i, j, t) {
		k = split(s, a, " ")
		for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
		return (k % 2) ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
	}
	END {
		printf "%-16s %12s %12s %8s  %s\n", "metric", "c9fs-serve", "diod", "ratio", "unit"
		for (i = 1; i <= n; i++) {
			m = order[i]; c = median(v[m, "c9fs"]); d = median(v[m, "diod"])
			printf "%-16s %12.1f %12.1f %7.2fx  %s\n", m, c, d, (d > 0 ? c / d : 0), u[m]
		}
	}' "$RESULTS"
