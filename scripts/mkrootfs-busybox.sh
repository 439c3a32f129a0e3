#!/usr/bin/env bash
# Makes a minimal root filesystem from Debian's busybox-static, with no network:
#   scripts/mkrootfs-busybox.sh DIR
# DIR gets bin/busybox, one symlink per applet, /etc/passwd and /etc/group with root and
# nobody, and the empty directories a container expects.
set -euo pipefail
dir=${1:?usage: mkrootfs-busybox.sh DIR}
bb=/bin/busybox
[ -x "$bb" ] && "$bb" --list >/dev/null 2>&1 || { echo "mkrootfs-busybox: $bb missing: install busybox-static (scripts/setup.sh does)" >&2; exit 1; }
file -L "$bb" 2>/dev/null | grep -q 'dynamically linked' && { echo "mkrootfs-busybox: $bb is not static: install busybox-static" >&2; exit 1; }
mkdir -p "$dir"
cd "$dir"
mkdir -p bin sbin usr/bin usr/sbin etc dev proc sys tmp root home var/tmp run
chmod 1777 tmp var/tmp
chmod 700 root
cp "$bb" bin/busybox
for applet in $(bin/busybox --list); do
  [ "$applet" = busybox ] && continue
  [ -e "bin/$applet" ] || ln -s busybox "bin/$applet"
done
cat > etc/passwd <<'P'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
P
cat > etc/group <<'G'
root:x:0:
nogroup:x:65534:
G
echo 'strata' > etc/hostname
# fixed times so the same busybox gives the same tree (reproducible images)
find . -exec touch -h -d '2000-01-01 00:00:00Z' {} +
