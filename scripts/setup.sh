#!/usr/bin/env bash
# Installs what the harness needs on Debian/Ubuntu: QEMU for both guest
# architectures and the Swift toolchain on PATH. Makes /dev/kvm usable the
# way udev normally does (root:kvm 0660). Safe to run again.
set -euo pipefail

if [ -d /opt/swift/usr/bin ] && ! command -v swift >/dev/null 2>&1; then
  export PATH="/opt/swift/usr/bin:$PATH"
fi

need=()
command -v qemu-system-x86_64 >/dev/null 2>&1 || need+=(qemu-system-x86)
command -v qemu-system-s390x >/dev/null 2>&1 || need+=(qemu-system-misc)
# libvirt's headers: the LibvirtBackend target links the C API.
pkg-config --exists libvirt 2>/dev/null || need+=(libvirt-dev pkg-config)
# Headless Chromium renders the HTML report in the report tests.
command -v chromium >/dev/null 2>&1 || need+=(chromium fonts-liberation fonts-dejavu-core)
if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

if [ -e /dev/kvm ] && [ "$(id -u)" -eq 0 ]; then
  getent group kvm >/dev/null || groupadd -r kvm
  chgrp kvm /dev/kvm && chmod 0660 /dev/kvm || true
fi

command -v swift >/dev/null || { echo "setup: no Swift toolchain on PATH" >&2; exit 1; }
echo "setup: $(qemu-system-x86_64 --version | head -1); $(swift --version 2>&1 | head -1)"
