#!/usr/bin/env bash
# Installs what building and testing the harness need on Debian/Ubuntu:
# QEMU for both guest architectures, libvirt (the headers the LibvirtBackend
# target links, and the daemon, QEMU driver, virsh and tini the libvirt
# tests run privately), Chromium for the HTML report test. As root it also
# does what udev and libvirt's daemon package would: /dev/kvm root:kvm 0660
# and the `libvirt-qemu` user the QEMU driver requires. It never writes
# /etc/libvirt and starts no daemon: the libvirt tests and the runner start
# their own (see "The libvirt backend" in README.md). Safe to run again;
# with everything installed it only checks (well under 2 s).
set -euo pipefail

if [ -d /opt/swift/usr/bin ] && ! command -v swift >/dev/null 2>&1; then
  export PATH="/opt/swift/usr/bin:$PATH"
fi

# Required: the package does not build or boot guests without these.
required=(qemu-system-x86 qemu-system-misc libvirt-dev pkg-config)
# The libvirt tests and `runner --backend libvirt` (a private libvirtd run
# under `tini -s`, a subreaper, in its own mount namespace), and the
# second-host test (`ip netns`).
libvirt=(libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients tini iproute2)
# Headless Chromium renders the HTML report in the report tests.
browser=(chromium fonts-liberation fonts-dejavu-core)

missing() {
  local package
  for package in "$@"; do
    dpkg-query -W -f='${db:Status-Abbrev}' "$package" 2>/dev/null | grep -q '^ii' || echo "$package"
  done
}
mapfile -t need < <(missing "${required[@]}" "${libvirt[@]}")
# Ubuntu ships Chromium as a snap behind another package name.
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
  mapfile -t -O "${#need[@]}" need < <(missing "${browser[@]}")
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo"; else sudo="none"; fi
fi

if [ ${#need[@]} -gt 0 ]; then
  if [ "$sudo" = none ]; then
    echo "setup: not root (and no password-less sudo): cannot install: ${need[*]}" >&2
    echo "setup: run as root, or: sudo apt-get install --no-install-recommends ${need[*]}" >&2
  else
    echo "setup: installing: ${need[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" \
      >/dev/null
    mapfile -t still < <(missing "${need[@]}")
    if [ ${#still[@]} -gt 0 ]; then
      echo "setup: could not install: ${still[*]}" >&2
    else
      echo "setup: installed: ${need[*]}"
    fi
  fi
fi

if [ "$sudo" != none ]; then
  # What udev does for /dev/kvm, and what Debian's libvirt-daemon-system
  # does for the QEMU driver (which refuses to start as root without this
  # user, whatever user its QEMU runs as).
  $sudo sh -c '
    getent group kvm >/dev/null || { groupadd -r kvm && echo "setup: created group kvm"; }
    getent group libvirt-qemu >/dev/null ||
      { groupadd -r libvirt-qemu && echo "setup: created group libvirt-qemu"; }
    id libvirt-qemu >/dev/null 2>&1 || {
      useradd -r -g libvirt-qemu -G kvm -d /var/lib/libvirt -s /usr/sbin/nologin libvirt-qemu &&
        echo "setup: created system user libvirt-qemu (libvirt QEMU driver)"
    }
    if [ -e /dev/kvm ] && [ "$(stat -c %G:%a /dev/kvm)" != kvm:660 ]; then
      chgrp kvm /dev/kvm && chmod 0660 /dev/kvm && echo "setup: /dev/kvm is now root:kvm 0660" || true
    fi
  '
elif ! id libvirt-qemu >/dev/null 2>&1; then
  echo "setup: no libvirt-qemu user (run setup as root to create it); libvirt needs it as root" >&2
fi

if [ ! -e /dev/kvm ]; then
  echo "setup: KVM cells will SKIP: /dev/kvm does not exist (no KVM on this machine or VM)"
elif [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
  echo "setup: KVM cells will SKIP: /dev/kvm is $(stat -c '%U:%G %a' /dev/kvm) and not usable by $(id -un)"
fi

status=0
mapfile -t absent < <(missing "${required[@]}")
if [ ${#absent[@]} -gt 0 ]; then
  echo "setup: missing (required to build and test): ${absent[*]}" >&2
  status=1
fi
mapfile -t absent < <(missing "${libvirt[@]}")
if [ ${#absent[@]} -gt 0 ]; then
  echo "setup: missing (the libvirt tests will fail): ${absent[*]}" >&2
fi
if ! command -v swift >/dev/null 2>&1; then
  echo "setup: no Swift toolchain on PATH" >&2
  exit 1
fi
[ $status -eq 0 ] || exit $status
echo "setup: $(qemu-system-x86_64 --version | head -1); $(swift --version 2>&1 | head -1)"
