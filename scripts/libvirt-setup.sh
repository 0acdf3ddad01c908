#!/usr/bin/env bash
# Installs and starts a libvirt daemon for the libvirt backend and its tests
# (Debian/Ubuntu, as root). Safe to run again. Facts it relies on:
# - the QEMU driver refuses to start without a `libvirt-qemu` user/group;
# - with /dev/kvm at 0600 every domain start takes ~44 s (the KVM
#   capability cache is never valid): it must be root:kvm 0660;
# - without virtlogd, QEMU's stdio must go to a file (stdio_handler);
# - libvirt reports a domain STOPPED only once its QEMU is reaped; QEMU is
#   an orphan, and a PID 1 that reaps orphans late (this machine's reaps
#   about every 2 s) adds that to every run, so libvirtd runs under
#   `tini -s`, a subreaper that reaps at once.
set -euo pipefail
[ "$(id -u)" -eq 0 ] || { echo "libvirt-setup: run as root" >&2; exit 1; }

need=()
command -v libvirtd >/dev/null 2>&1 || need+=(libvirt-daemon libvirt-daemon-driver-qemu)
command -v virsh >/dev/null 2>&1 || need+=(libvirt-clients)
command -v tini >/dev/null 2>&1 || need+=(tini)
pkg-config --exists libvirt 2>/dev/null || need+=(libvirt-dev pkg-config)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

getent group kvm >/dev/null || groupadd -r kvm
getent group libvirt-qemu >/dev/null || groupadd -r libvirt-qemu
id libvirt-qemu >/dev/null 2>&1 ||
  useradd -r -g libvirt-qemu -G kvm -d /var/lib/libvirt -s /usr/sbin/nologin libvirt-qemu
if [ -e /dev/kvm ]; then chgrp kvm /dev/kvm && chmod 0660 /dev/kvm || true; fi

mkdir -p /etc/libvirt /var/log/libvirt /var/lib/libvirt /var/cache/libvirt /run/libvirt
if ! grep -q 'swift-guest-harness' /etc/libvirt/qemu.conf 2>/dev/null; then
  cat >> /etc/libvirt/qemu.conf <<'CONF'
# swift-guest-harness: QEMU runs as root so it can read payloads in the
# checkout; no virtlogd; no security labels on the test machine.
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
stdio_handler = "file"
security_driver = "none"
CONF
fi

if ! virsh -c qemu:///system version >/dev/null 2>&1; then
  setsid tini -s -- libvirtd </dev/null >>/var/log/libvirt/libvirtd.stdout 2>&1 &
  for _ in $(seq 1 100); do
    virsh -c qemu:///system version >/dev/null 2>&1 && break
    sleep 0.2
  done
fi
virsh -c qemu:///system version | sed 's/^/libvirt-setup: /'
