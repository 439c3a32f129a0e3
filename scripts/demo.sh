#!/usr/bin/env bash
# The README's first command, with no network: a busybox-static root filesystem (made
# offline by scripts/mkrootfs-busybox.sh) imported as image "busybox" into a throwaway
# store, examples/hello built on it, run, its history shown, built again from the cache;
# then, once `strata mount` exists, the union itself. Everything it makes is removed at the
# end (store, containers, mounts, temp dirs), also when a step fails.
set -euo pipefail
cd "$(dirname "$0")/.."
strata() { node dist/src/cli/main.js "$@"; }
# a command exists when its own help names it (yargs answers any --help with exit 0)
has_command() { strata "$1" --help 2>/dev/null | head -n 1 | grep -q "^strata $1\b"; }

work=$(mktemp -d /tmp/strata-demo.XXXXXX)
root="$work/root"
mnt="$work/union/mnt"
probe="$work/probe"
cleanup() {
  local id m
  for id in $(strata --root "$root" ps -a -q 2>/dev/null); do strata --root "$root" rm -f "$id" >/dev/null 2>&1 || true; done
  for m in "$probe/m" "$mnt"; do
    if [ -d "$m" ] && mountpoint -q "$m"; then
      strata umount "$m" 2>/dev/null || strata umount --lazy "$m" 2>/dev/null || true
    fi
  done
  rm -rf "$work"
}
trap cleanup EXIT

# Containers mount their root with Strata's own mount program (dist/src/cli/overlay.js)
# unless $STRATA_MOUNT_PROGRAM names another. Where Strata's cannot mount yet, a trial
# mount says so and fuse-overlayfs (the same command line) stands in.
if [ -z "${STRATA_MOUNT_PROGRAM:-}" ]; then
  mkdir -p "$probe/l" "$probe/u" "$probe/w" "$probe/m"
  if node dist/src/cli/overlay.js -o "lowerdir=$probe/l,upperdir=$probe/u,workdir=$probe/w" "$probe/m" >/dev/null 2>&1 && mountpoint -q "$probe/m"; then
    strata umount "$probe/m"
  else
    echo "== (Strata's own mount program cannot mount here yet: fuse-overlayfs stands in)"
    export STRATA_MOUNT_PROGRAM=fuse-overlayfs
  fi
fi

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

if ! has_command mount; then
  echo "== (the union mount part is skipped: this strata has no 'strata mount' yet)"
  exit 0
fi
echo "== the union of examples/layers/app over examples/layers/base at $mnt"
mkdir -p "$mnt" "$work/union/upper" "$work/union/work"
strata mount -o "lowerdir=examples/layers/app:examples/layers/base,upperdir=$work/union/upper,workdir=$work/union/work,trace=$work/union/trace" "$mnt"
(cd "$mnt" && find . | sort)
if has_command explain; then
  echo "== where etc/layer comes from:"
  strata explain "$mnt/etc/layer"
fi
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
