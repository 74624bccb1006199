#!/bin/sh
# Transport benchmark: the c9fs 9P client against diod on loopback, beside diodcat and raw TCP,
# all in one run (see TransportBench's javadoc for what is measured).
# Usage: scripts/bench/transport-bench.sh [rounds=3] [fileMiB=1024]
# Needs diod and diodcat. Scratch files live in /tmp/c9fs-transport/ (the 1 GiB file is kept for reruns).
set -eu
cd "$(dirname "$0")/../.."
BUILD=${C9FS_BUILD:-target-transport}
OUT=/tmp/c9fs-transport
mkdir -p "$OUT"
mvn -q -o -Dc9fs.build="$BUILD" -pl transport test-compile
mvn -q -o -Dc9fs.build="$BUILD" -pl transport dependency:build-classpath \
    -Dmdep.outputFile="$OUT/bench-cp.txt" -Dmdep.includeScope=test >/dev/null
CP="transport/$BUILD/classes:transport/$BUILD/test-classes:$(cat "$OUT/bench-cp.txt")"
exec java -Xms1g -Xmx1g -XX:+UseParallelGC -cp "$CP" io.c9fs.transport.bench.TransportBench "${1:-3}" "${2:-1024}"
