#!/usr/bin/env bash
# Installs the Debian packages the test bed needs: proot and busybox-static (containers
# through udocker without a daemon), docker-registry, apache2-utils (htpasswd -B for its auth),
# podman and runc (a Docker-compatible API service for the docker-SDK image builder),
# qemu-user-static (runs the arm64 function images and runtimes on an x86_64 machine),
# fakechroot and patchelf (udocker's F1 mode, as on Lambda, in the executor's sandbox) and
# mmdebstrap (the stand-in base of the action image's build test, and the glibc test image F1
# needs: Fakechroot cannot confine static binaries).
# Idempotent: does nothing when everything is already installed.
set -euo pipefail

packages=(proot busybox-static docker-registry apache2-utils podman runc qemu-user-static
          fakechroot patchelf mmdebstrap)

missing=()
for pkg in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "setup-system: missing Debian packages: ${missing[*]}" >&2
    echo "setup-system: install them with: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
fi
echo "setup-system: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
