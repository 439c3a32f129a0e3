#!/usr/bin/env bash
# The main job on a built-in default. For now: serve examples/ through Strata's FUSE
# binding and show it; the union filesystem makes this a union with copy-up and whiteouts.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d /tmp/strata-demo.XXXXXX)
mnt="$work/mnt"
mkdir -p "$mnt"
cleanup() {
  node dist/src/cli/main.js umount --lazy "$mnt" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
node dist/test/fixtures/passthrough.js examples/layers/base "$mnt" > "$work/log" &
for _ in $(seq 50); do grep -q ready "$work/log" 2>/dev/null && break; sleep 0.1; done
echo "== the example layer, served through Strata's FUSE binding at $mnt"
find "$mnt" | sort
echo "== $mnt/etc/motd:"; cat "$mnt/etc/motd"
