#!/usr/bin/env bash
# Builds the Incus lab images offline into $1:
#   container.tar.gz  unified image (metadata.yaml + rootfs/): busybox-static and the container guest init
#   vm-meta.tar.gz + vm-disk.qcow2  split VM image from the libvirt lab's base disk ($2/base.img)
# Idempotent: rebuilds only when an input is newer than the output.
set -euo pipefail
out=$1; guest=$2
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
ct="$out/container.tar.gz"
if [ ! -f "$ct" ] || [ "$here/container-init" -nt "$ct" ] || [ "$here/vmc-disk" -nt "$ct" ]; then
  tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
  r="$tmp/rootfs"
  mkdir -p "$r"/{bin,sbin,etc/vmc/seed,proc,sys,dev,run,tmp,var/log/vmc,vmc/disk,root}
  cp /bin/busybox "$r/bin/busybox"
  for a in sh mount umount mkdir cat head tr cut sort awk sed df sha256sum sleep printf echo cp dd sync ls rm; do
    ln -sf busybox "$r/bin/$a"
  done
  install -m 755 "$here/container-init" "$r/sbin/init"
  install -m 755 "$here/vmc-disk" "$r/bin/vmc-disk"
  echo 'VMCIMG:base-v1' >"$r/etc/vmc-img"
  echo 'root:x:0:0:root:/root:/bin/sh' >"$r/etc/passwd"
  echo 'root:x:0:' >"$r/etc/group"
  cat >"$tmp/metadata.yaml" <<META
architecture: x86_64
creation_date: $(date +%s)
properties:
  os: vmconform-busybox
  release: base-v1
  description: vmconform container guest (busybox)
META
  tar -C "$tmp" --numeric-owner --owner=0 --group=0 -czf "$ct.tmp" metadata.yaml rootfs
  mv "$ct.tmp" "$ct"
  rm -rf "$tmp"; trap - EXIT
fi
vm="$out/vm-disk.qcow2"
if [ ! -f "$vm" ] || [ "$guest/base.img" -nt "$vm" ]; then
  qemu-img convert -f raw -O qcow2 "$guest/base.img" "$vm.tmp" && mv "$vm.tmp" "$vm"
  tmp=$(mktemp -d)
  cat >"$tmp/metadata.yaml" <<META
architecture: x86_64
creation_date: $(date +%s)
properties:
  os: vmconform-direct-kernel
  release: base-v1
  description: vmconform VM disk (the libvirt lab's base disk; boots with the lab kernel and initramfs via raw.qemu)
META
  tar -C "$tmp" -czf "$out/vm-meta.tar.gz" metadata.yaml
  rm -rf "$tmp"
fi
echo "incus images ready in $out"
