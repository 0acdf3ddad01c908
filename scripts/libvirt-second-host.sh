#!/usr/bin/env bash
# A second, really distinct libvirt host on this machine for the multi-host
# tests: its own network namespace (veth 10.231.0.1 <-> 10.231.0.2), its own
# mount namespace with private /run/libvirt, /run/lock (pty locks), /var/lib/libvirt,
# /var/cache/libvirt, /var/log/libvirt and /etc/libvirt (a bind mount of its
# own config in $state/etc; nothing of the system's libvirt is touched), listening on TCP
# 16509 without auth (test only, reachable only from this machine), with a host
# UUID of its own (libvirt migrates only between hosts whose UUIDs differ).
#   libvirt-second-host.sh start   -> prints the URI
#   libvirt-second-host.sh stop    -> kills its daemon and QEMUs, removes it
set -euo pipefail
ns=swiftguest-host2
host_ip=10.231.0.1
ns_ip=10.231.0.2
state=/tmp/swiftguest-host2
uri="qemu+tcp://$ns_ip/system"

stop() {
  if ip netns list 2>/dev/null | grep -qw "$ns"; then
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
    ip netns delete "$ns" 2>/dev/null || true
  fi
  ip link delete sgh0 2>/dev/null || true
}

case "${1:-}" in
start)
  [ "$(id -u)" -eq 0 ] || { echo "run as root" >&2; exit 1; }
  stop
  mkdir -p "$state/etc"
  # Its own qemu.conf (the system's /etc/libvirt is neither read nor
  # written): a test-only daemon whose QEMU runs as root with no security
  # labels, like the harness's private daemon (PrivateLibvirtd), and writes
  # its stdio to files (no virtlogd).
  cat > "$state/etc/qemu.conf" <<'CONF'
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
stdio_handler = "file"
CONF
  cat > "$state/etc/libvirtd.conf" <<CONF
listen_tls = 0
listen_tcp = 1
listen_addr = "$ns_ip"
auth_tcp = "none"
log_outputs = "3:file:/var/log/libvirt/libvirtd.log"
host_uuid = "$(cat /proc/sys/kernel/random/uuid)"
CONF
  ip netns add "$ns"
  ip link add sgh0 type veth peer name sgh1
  ip link set sgh1 netns "$ns"
  ip addr add "$host_ip/24" dev sgh0
  ip link set sgh0 up
  ip netns exec "$ns" ip addr add "$ns_ip/24" dev sgh1
  ip netns exec "$ns" ip link set sgh1 up
  ip netns exec "$ns" ip link set lo up
  # Under `tini -s` (a subreaper) so that its QEMUs are reaped at once:
  # libvirt reports a domain STOPPED only after its QEMU was reaped, and a
  # PID 1 that reaps orphans late adds that delay to every run.
  setsid ip netns exec "$ns" unshare --mount --propagation private sh -c "
    for d in /run/libvirt /run/lock /var/lib/libvirt /var/cache/libvirt /var/log/libvirt; do
      mkdir -p \$d && mount -t tmpfs tmpfs \$d
    done
    mkdir -p /etc/libvirt && mount --bind '$state/etc' /etc/libvirt
    exec tini -s -- libvirtd -l -p /run/libvirt/libvirtd.pid
  " </dev/null >/dev/null 2>&1 &
  for _ in $(seq 1 100); do
    virsh -c "$uri" version >/dev/null 2>&1 && break
    sleep 0.2
  done
  virsh -c "$uri" version >/dev/null
  echo "$uri"
  ;;
stop) stop ;;
*) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
