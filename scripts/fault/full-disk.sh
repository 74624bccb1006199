#!/usr/bin/env bash
# full-disk: the export is a 4 MiB tmpfs. A writer fills it through a mount: ENOSPC must reach
# the writer (at write, fsync or close, not EIO), a file synced before stays intact on the
# server and through both mounts, the server and daemons stay up, and once space is freed
# writes work again. docs/fault-injection.md.
set -euo pipefail
. "$(dirname "$(readlink -f "$0")")/lib.sh"
fault_init full-disk
mount -t tmpfs -o size=4m,mode=755 tmpfs "$FR/export" || cannot_run "cannot mount a tmpfs on $FR/export"
FAULT_TMPFS=$FR/export
serve_start || result FAIL "c9fs-serve did not start"
mount_side a "$SERVE_PORT" timeout=10 || result FAIL "mounting a failed"
mount_side b "$SERVE_PORT" timeout=10 || result FAIL "mounting b failed"

head -c 1048576 /dev/urandom >"$FR/synced.ref"
with_timeout 60 dd if="$FR/synced.ref" of="$FR/a/synced" bs=64k conv=fsync status=none ||
	result FAIL "writing and syncing 1 MiB failed before the disk was full"

# 4 MiB of 64 KiB blocks into a 4 MiB tmpfs that already holds 1 MiB
t0=$(now_ms)
if with_timeout 120 dd if=/dev/zero of="$FR/a/fill" bs=64k count=64 conv=fsync status=none 2>"$FR/fill.err"; then
	result FAIL "filling the disk succeeded: no ENOSPC reached the writer"
fi
fill_ms=$(($(now_ms) - t0))
grep -q "No space left on device" "$FR/fill.err" ||
	result FAIL "the writer got another error than ENOSPC: $(head -c 200 "$FR/fill.err")"
filled=$(stat -c %s "$FR/export/fill" 2>/dev/null || echo 0)

bad=
cmp -s "$FR/synced.ref" "$FR/export/synced" || bad+=" server-side"
cmp -s "$FR/synced.ref" "$FR/a/synced" 2>/dev/null || bad+=" mount-a"
cmp -s "$FR/synced.ref" "$FR/b/synced" 2>/dev/null || bad+=" mount-b"
[[ -z $bad ]] || result FAIL "the synced file changed while the disk was full:$bad"
serve_alive || result FAIL "c9fs-serve died on a full disk"
for p in "${DAEMON_PIDS[@]}"; do kill -0 "$p" 2>/dev/null || result FAIL "a c9fs-mount daemon died on a full disk"; done

# free the space through the other mount, then write again through the first
with_timeout 30 rm -f "$FR/b/fill" || result FAIL "removing the filler through b failed"
t0=$(now_ms)
ok=
for ((i = 0; i < 20; i++)); do
	if with_timeout 60 dd if="$FR/synced.ref" of="$FR/a/again" bs=64k count=8 conv=fsync status=none 2>"$FR/again.err"; then
		ok=1
		break
	fi
	sleep 0.5
done
[[ -n $ok ]] || result FAIL "writing after freeing space still fails: $(head -c 200 "$FR/again.err")"
again_ms=$(($(now_ms) - t0))
head -c 524288 "$FR/synced.ref" | cmp -s - "$FR/export/again" || result FAIL "the file written after freeing space differs on the server"
result ok "ENOSPC reached the writer after $((filled / 1024)) KiB ($fill_ms ms), the synced 1 MiB intact on the server and both mounts, writing again worked ${again_ms} ms after freeing"
