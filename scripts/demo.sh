#!/usr/bin/env bash
# The README's first command, with no network: a busybox-static root filesystem (made
# offline by scripts/mkrootfs-busybox.sh) imported as image "busybox" into a throwaway
# store, examples/hello built on it, run, its history shown, built again from the cache;
# then the union mount itself: a copy-up and a whiteout, explained and traced. Everything it makes is removed at the
# end (store, containers, mounts, temp dirs), also when a step fails.
set -euo pipefail
cd "$(dirname "$0")/.."
strata() { node dist/src/cli/main.js "$@"; }

work=$(mktemp -d /tmp/strata-demo.XXXXXX)
root="$work/root"
mnt="$work/union/mnt"
cleanup() {
  local id m
  for id in $(strata --root "$root" ps -a -q 2>/dev/null); do strata --root "$root" rm -f "$id" >/dev/null 2>&1 || true; done
  for m in "$mnt"; do
    if [ -d "$m" ] && mountpoint -q "$m"; then
      strata umount "$m" 2>/dev/null || strata umount --lazy "$m" 2>/dev/null || true
    fi
  done
  rm -rf "$work"
}
trap cleanup EXIT

# Containers mount their root with Strata's own mount program (dist/src/cli/overlay.js)
# unless $STRATA_MOUNT_PROGRAM names another with the same command line (fuse-overlayfs).
echo "== a busybox-static root filesystem, imported as image busybox into $root"
bash scripts/mkrootfs-busybox.sh "$work/rootfs" >/dev/null
strata --root "$root" import "$work/rootfs" busybox
echo
echo "== strata build -t hello examples/hello"
cat examples/hello/Dockerfile | sed 's/^/    /'
strata --root "$root" build -t hello examples/hello
echo
echo "== strata run --rm hello"
strata --root "$root" run --rm hello
echo
echo "== strata history hello"
strata --root "$root" history hello
echo
echo "== the same build again: every step from the cache"
strata --root "$root" build -t hello examples/hello | grep -E '^Step|Using cache|Successfully built'
echo

echo "== the union of examples/layers/app over examples/layers/base at $mnt"
mkdir -p "$mnt" "$work/union/upper" "$work/union/work"
strata mount -o "lowerdir=examples/layers/app:examples/layers/base,upperdir=$work/union/upper,workdir=$work/union/work,trace=$work/union/trace" "$mnt"
(cd "$mnt" && find . | sort)
echo "== where etc/layer comes from:"
strata explain "$mnt/etc/layer"
echo "== append to etc/motd (a lower file: copied up first) and remove etc/layer (a whiteout):"
echo "changed through Strata" >> "$mnt/etc/motd"
rm "$mnt/etc/layer"
cat "$mnt/etc/motd"
echo "== the upper dir now holds:"
(cd "$work/union/upper" && find . -mindepth 1 | sort | while read -r p; do printf '%s  %s\n' "$(stat -c '%F %t:%T' "$p")" "$p"; done)
echo "== trace:"
cat "$work/union/trace"
strata umount "$mnt"
echo "== unmounted"
