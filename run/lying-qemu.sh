#!/bin/bash
# vmconform lab test (run/lying-qemu.lab.ts): a QEMU that gives the guest less than the domain XML
# declares. libvirt 9 passes memory as `-m <MiB>` plus a RAM backend `"size":<bytes>` (both halved, or
# QEMU refuses the mismatch) and devices as JSON (`"mac":"52:54:00:…"`, `"serial":"…"`). The boot disk
# and the NoCloud seed keep their serials, so the guest still boots and the other checks still run.
# @REAL@ is replaced with the emulator libvirt would use.
args=()
prev=
for a in "$@"; do
  if [ "$prev" = -m ] && [[ $a =~ ^[0-9]+$ ]]; then a=$((a / 2)); fi
  if [[ $a =~ ^(.*\"qom-type\":\"memory-backend-ram\".*\"size\":)([0-9]+)(.*)$ ]]; then
    a="${BASH_REMATCH[1]}$((BASH_REMATCH[2] / 2))${BASH_REMATCH[3]}"
  fi
  a=${a//\"mac\":\"52:54:00:/\"mac\":\"52:54:01:}
  if [[ $a =~ ^(.*\"serial\":\")([A-Za-z0-9._=-]+)(\".*)$ ]] && [ "${BASH_REMATCH[2]}" != boot ] &&
    [ "${BASH_REMATCH[2]}" != cidata ]; then
    a="${BASH_REMATCH[1]}${BASH_REMATCH[2]}-x${BASH_REMATCH[3]}"
  fi
  args+=("$a")
  prev=$a
done
exec @REAL@ "${args[@]}"
