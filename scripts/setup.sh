#!/usr/bin/env bash
# Makes a bare Debian 12 machine with Node 20 ready for Strata: the system packages that
# are missing, then `npm ci` and `npm run build`. Idempotent: seconds when all is present.
set -euo pipefail
cd "$(dirname "$0")/.."

# What the product and its tests need from Debian. Later issues append here.
PACKAGES=(
  build-essential pkg-config python3   # node-gyp
  libfuse3-dev fuse3                    # the native binding and fusermount3
  attr                                  # setfattr/getfattr in tests
  busybox-static                        # the offline base image
  util-linux                            # unshare, nsenter, mount
  fuse-overlayfs                        # a peer in tests and bench
  skopeo umoci                          # interop peers: image archives, layouts, registries
  docker-registry                       # registry tests: a real registry
  apache2-utils openssl                 # registry tests: htpasswd -B, the token server's certificate
  unionfs-fuse                          # a peer in bench (issue 4)
  stress-ng                             # the compat concurrency test
  buildah                               # builds compared with Strata's in test/build
  uidmap                                # newuidmap/newgidmap: rootless /etc/subuid ranges (test/run/subuid)
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# /dev/fuse may be missing in minimal containers
[ -e /dev/fuse ] || { [ "$(id -u)" -eq 0 ] && mknod -m 666 /dev/fuse c 10 229; } || true
# rootless containers mount FUSE in their user namespace: Debian's udev rule makes it 0666, a
# machine without udev leaves the kernel's 0600
[ "$(id -u)" -eq 0 ] && [ -c /dev/fuse ] && chmod 666 /dev/fuse || true

stamp=node_modules/.strata-lock
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json "$stamp"
fi
npm run --silent build
echo "setup: ready ($(node dist/src/cli/main.js --version))"
