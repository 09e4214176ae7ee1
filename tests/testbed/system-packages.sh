#!/usr/bin/env bash
# Installs the Debian packages the test bed needs (idempotent, quiet when present).
# Docker engine, debootstrap + qemu for arm64 hosts, packer, CPython build deps
# (native and arm64 cross), nginx for the HTTP layer cache, sshd for SSH hosts,
# and the ShellCheck linter for ansible-test sanity.
set -euo pipefail
want=(docker.io debootstrap qemu-user-static binfmt-support packer
      iproute2 openssh-server openssh-client sshpass nginx-light curl ca-certificates tinyproxy
      build-essential pkg-config dpkg-dev patchelf shellcheck
      libssl-dev zlib1g-dev libffi-dev libbz2-dev liblzma-dev libsqlite3-dev libreadline-dev
      gcc-aarch64-linux-gnu libc6-dev-arm64-cross)
want_arm64=(libssl-dev:arm64 zlib1g-dev:arm64 libffi-dev:arm64 libbz2-dev:arm64 liblzma-dev:arm64 libsqlite3-dev:arm64)
want+=(chromium)  # headless browser: tests/docs opens the docs site's module page (make docs)
missing=()
for p in "${want[@]}" "${want_arm64[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ! grep -rqs '^deb-src' /etc/apt/sources.list /etc/apt/sources.list.d/ ; then
  need_src=1
else
  need_src=0
fi
if [ "${#missing[@]}" -eq 0 ] && [ "$need_src" -eq 0 ]; then
  exit 0
fi
dpkg --print-foreign-architectures | grep -qx arm64 || dpkg --add-architecture arm64
if [ "$need_src" -eq 1 ]; then
  # Source entries for the CPython tarballs the test bed builds runtime archives from.
  mirror=$("$(dirname "$0")/debian-mirror.sh")
  printf 'deb-src %s bookworm main\ndeb-src %s trixie main\n' "$mirror" "$mirror" \
    > /etc/apt/sources.list.d/appenv-testbed-src.list
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
