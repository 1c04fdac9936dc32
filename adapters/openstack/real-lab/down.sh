#!/bin/sh
# Stops exactly what up.sh started: the lab's guests, every daemon whose PID is under $D/pids, the
# helpers the agents daemonised (privsep, dnsmasq, haproxy: found by the lab's own paths in their
# command lines or PID files), and the bridges, namespaces and veth Neutron made for the lab's networks.
# `down.sh --purge` also removes $D (databases, images, keys).
set -u
. "$(dirname "$0")/common.sh"
[ -d "$D" ] || exit 0
sock="qemu:///system?socket=$D/libvirt/run/libvirt-sock"
if alive libvirtd; then
  for dom in $(virsh -c "$sock" list --all --name 2>/dev/null); do
    virsh -c "$sock" destroy "$dom" >/dev/null 2>&1; virsh -c "$sock" undefine --nvram "$dom" >/dev/null 2>&1 || virsh -c "$sock" undefine "$dom" >/dev/null 2>&1
  done
fi
# A daemon spawn() started leads its own process group (setsid), and its workers (oslo forks them) are in
# it: a worker outlives a parent killed first (a cinder-volume worker hung on Ceph did, and kept the lab
# half up). Such a daemon is stopped as its whole group.
group() { for p in "$@"; do
  if [ "$(ps -o pgid= -p "$p" 2>/dev/null | tr -d ' ')" = "$p" ]; then echo "-$p"; else echo "$p"; fi; done; }
running() { case $1 in -*) pgrep -g "${1#-}" >/dev/null;; *) kill -0 "$1" 2>/dev/null;; esac; }
signal() { s=$1; shift; for p in "$@"; do case $p in -*) pkill -"$s" -g "${p#-}";; *) kill -s "$s" "$p";; esac; done 2>/dev/null; }
stop() { # pids...: TERM, then KILL what is left after 10 s
  [ $# -gt 0 ] || return 0
  set -- $(group "$@")
  signal TERM "$@"
  for _ in $(seq 1 20); do alive_any=; for p in "$@"; do running "$p" && alive_any=1; done; [ -z "$alive_any" ] && return 0; sleep 0.5; done
  signal KILL "$@"; return 0
}
# Services first (agents respawn helpers while they live), then the helpers, then the infrastructure.
svc=; for n in nova-api nova-conductor nova-scheduler nova-compute neutron-server neutron-linuxbridge-agent \
  neutron-dhcp-agent neutron-metadata-agent cinder-api cinder-scheduler cinder-volume cinder-backup glance-api keystone placement; do
  p=$(pidof_svc "$n") && kill -0 "$p" 2>/dev/null && svc="$svc $p"
done
stop $svc
helpers=$(pgrep -f "privsep-helper --config-file $ETC/" | tr '\n' ' ')
for f in "$D"/neutron/dhcp/*/pid "$D"/neutron/external/pids/*.pid*; do [ -f "$f" ] && helpers="$helpers $(cat "$f")"; done
stop $helpers
infra=; for n in libvirtd virtlogd ceph-osd.0 ceph-mgr.x ceph-mon.a memcached rabbitmq epmd mariadb; do
  p=$(pidof_svc "$n") && kill -0 "$p" 2>/dev/null && infra="$infra $p"
done
stop $infra
for dir in "$D"/neutron/dhcp/*/; do
  [ -d "$dir" ] || continue; net=$(basename "$dir")
  ip netns delete "qdhcp-$net" 2>/dev/null
  br="brq$(echo "$net" | cut -c1-11)"
  ip link show "$br" >/dev/null 2>&1 && { ip link set "$br" down; ip link delete "$br" type bridge; }
done
# Bridges the linuxbridge agent made for networks without DHCP: found as masters of the lab's veths.
for l in "$PHYS_IF" "$PHYS2_IF"; do
  br=$(basename "$(readlink "/sys/class/net/$l/master" 2>/dev/null)" 2>/dev/null)
  case $br in brq*) ip link set "$br" down; ip link delete "$br" type bridge;; esac
done
# A network deleted just before the agent stopped leaves its bridge empty (the agent removes it later):
# an empty brq bridge carries nothing, and only this lab's agent makes them.
for br in $(ip -o link show type bridge 2>/dev/null | sed -n 's/^[0-9]*: \(brq[0-9a-f-]*\)[:@].*/\1/p'); do
  [ -z "$(ls "/sys/class/net/$br/brif" 2>/dev/null)" ] && { ip link set "$br" down; ip link delete "$br" type bridge; }
done
for l in "$PHYS_IF" "$PHYS2_IF" "$EXT_BR"; do ip link show "$l" >/dev/null 2>&1 && ip link delete "$l"; done
rm -f "$PIDS"/*.pid
[ "${1:-}" = --purge ] && rm -rf "$D"
echo "openstack-real lab down"
