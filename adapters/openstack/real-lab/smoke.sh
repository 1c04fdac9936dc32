#!/bin/sh
# End-to-end check: a flat network, the libvirt lab's guest (kernel, initrd, base disk, copied) in
# Glance, a flavor, one server booted to ACTIVE and to the guest's READY line on its console.
# Prints the timings; `smoke.sh clean` deletes what it created.
set -eu
. "$(dirname "$0")/common.sh"
G=$(ls -d /var/lib/vmconform/guest/*/ | head -1)
if [ "${1:-}" = clean ]; then
  osc server delete --wait osr-smoke osr-bfv 2>/dev/null || true
  osc volume delete osr-data osr-bootvol 2>/dev/null || true
  for i in osr-base osr-initrd osr-kernel; do osc image delete "$i" 2>/dev/null || true; done
  osc flavor delete osr.tiny 2>/dev/null || true
  osc network delete osr-net 2>/dev/null || true
  exit 0
fi
t() { date +%s.%N; }; since() { echo "$(t) - $1" | bc; }
osc network show osr-net >/dev/null 2>&1 || {
  osc network create --provider-network-type flat --provider-physical-network physnet1 --share osr-net >/dev/null
  osc subnet create --network osr-net --subnet-range 10.231.0.0/24 --dhcp osr-subnet >/dev/null; }
osc flavor show osr.tiny >/dev/null 2>&1 || osc flavor create --vcpus 1 --ram 256 --disk 1 osr.tiny >/dev/null
if ! osc image show osr-base >/dev/null 2>&1; then
  mkdir -p "$D/images"; cp "$G/vmlinuz" "$G/initrd.img" "$G/base.img" "$D/images/"
  t0=$(t)
  k=$(osc image create --disk-format aki --container-format aki --file "$D/images/vmlinuz" osr-kernel -f value -c id)
  r=$(osc image create --disk-format ari --container-format ari --file "$D/images/initrd.img" osr-initrd -f value -c id)
  # The guest runs from its initrd; the base disk is its first disk. Direct kernel boot as the libvirt lab does.
  osc image create --disk-format raw --container-format bare --file "$D/images/base.img" \
    --property kernel_id="$k" --property ramdisk_id="$r" --property os_command_line='console=ttyS0 quiet panic=-1' \
    osr-base >/dev/null
  echo "images uploaded in $(since "$t0") s"
fi
t0=$(t)
id=$(osc server create --flavor osr.tiny --image osr-base --network osr-net osr-smoke -f value -c id)
st=
while :; do st=$(osc server show "$id" -f value -c status); case $st in ACTIVE|ERROR) break;; esac; sleep 1; done
echo "server $id $st after $(since "$t0") s"
[ "$st" = ACTIVE ] || { osc server show "$id" -f value -c fault; exit 1; }
for _ in $(seq 1 120); do
  osc console log show "$id" 2>/dev/null | grep -q '^VMC READY' && { echo "guest READY after $(since "$t0") s"; break; }
  sleep 2
done
osc console log show "$id" | tail -5

# Volumes, when Cinder has the RBD backend: attach one to the running guest, then boot from a volume.
grep -q '^enabled_backends = rbd' "$ETC/cinder/cinder.conf" || { echo "no RBD backend: volume checks skipped"; exit 0; }
vwait() { for _ in $(seq 1 120); do s=$(osc volume show "$1" -f value -c status); case $s in "$2"|error*) break;; esac; sleep 1; done; echo "$s"; }
t0=$(t); osc volume create --size 1 osr-data >/dev/null; echo "volume $(vwait osr-data available) after $(since "$t0") s"
t0=$(t); osc server add volume "$id" osr-data >/dev/null; echo "attach: $(vwait osr-data in-use) after $(since "$t0") s"
for _ in $(seq 1 30); do osc console log show "$id" | grep -q 'VMC STATE.*,vdb:' && { echo "guest sees vdb after $(since "$t0") s"; break; }; sleep 2; done
t0=$(t); osc volume create --image osr-base --size 1 --bootable osr-bootvol >/dev/null
echo "bootable volume $(vwait osr-bootvol available) after $(since "$t0") s"
t0=$(t); b=$(osc server create --flavor osr.tiny --volume osr-bootvol --network osr-net osr-bfv -f value -c id)
while :; do st=$(osc server show "$b" -f value -c status); case $st in ACTIVE|ERROR) break;; esac; sleep 1; done
echo "boot-from-volume server $st after $(since "$t0") s"
for _ in $(seq 1 120); do
  osc console log show "$b" 2>/dev/null | grep -q '^VMC READY' && { echo "boot-from-volume guest READY after $(since "$t0") s"; break; }
  sleep 2
done
