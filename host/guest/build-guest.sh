#!/usr/bin/env bash
# build-guest.sh OUT_DIR
#
# Builds the offline guest artefacts every vmconform lab boots:
#   OUT_DIR/vmlinuz     Debian cloud kernel (linux-image-cloud-amd64), direct kernel boot
#   OUT_DIR/initrd.img  gzip'd newc cpio: busybox-static + host/guest/init + virtio/ACPI modules
#   OUT_DIR/base.img    32 MiB raw "base image" starting with "VMCIMG:base-v1\n"
#   OUT_DIR/guest.json  {kernelVersion, kernelSha256, initrdSha256, baseSha256, initSha256,
#                        modules, builtAt}
#
# Needs: apt-get (with lists, i.e. after `apt-get update`), dpkg-deb, cpio, gzip, sha256sum,
# busybox-static (/bin/busybox). Offline apart from the Debian mirror apt already uses.
# Idempotent: exits at once when guest.json records the sha256 of the current init script.
set -euo pipefail

die() { echo "build-guest: ERROR: $*" >&2; exit 1; }
log() { echo "build-guest: $*" >&2; }

[ $# -eq 1 ] || die "usage: $0 OUT_DIR"
OUT_DIR=$1
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
INIT_SRC="$SCRIPT_DIR/init"
[ -f "$INIT_SRC" ] || die "init script not found at $INIT_SRC"

START_NS=$(date +%s%N)
elapsed() { echo "$(( ($(date +%s%N) - START_NS) / 1000000 )) ms"; }

INIT_SHA=$(sha256sum "$INIT_SRC" | cut -d' ' -f1)
BUILD_SHA=$(sha256sum "${BASH_SOURCE[0]}" | cut -d' ' -f1)

# ---- cache check -------------------------------------------------------------------------
if [ -f "$OUT_DIR/guest.json" ] && [ -f "$OUT_DIR/vmlinuz" ] && [ -f "$OUT_DIR/initrd.img" ] \
  && [ -f "$OUT_DIR/base.img" ]; then
  if grep -q "\"initSha256\": *\"$INIT_SHA\"" "$OUT_DIR/guest.json" \
    && grep -q "\"buildScriptSha256\": *\"$BUILD_SHA\"" "$OUT_DIR/guest.json"; then
    log "cached: $OUT_DIR/guest.json matches init sha256 $INIT_SHA (took $(elapsed))"
    exit 0
  fi
  log "init or build script changed since last build; rebuilding"
fi

for tool in apt-get apt-cache dpkg-deb cpio gzip sha256sum find sort; do
  command -v "$tool" >/dev/null 2>&1 || die "required tool '$tool' not found in PATH"
done
BUSYBOX=""
for c in /bin/busybox /usr/bin/busybox; do
  if [ -x "$c" ]; then BUSYBOX=$c; break; fi
done
[ -n "$BUSYBOX" ] || die "busybox not found; install it: apt-get install -y busybox-static"
if command -v file >/dev/null 2>&1 && ! file -L "$BUSYBOX" | grep -q 'statically linked'; then
  die "$BUSYBOX is not statically linked; install busybox-static"
fi
if command -v ldd >/dev/null 2>&1 && ldd "$BUSYBOX" 2>&1 | grep -q '=>'; then
  die "$BUSYBOX is dynamically linked; install busybox-static (apt-get install -y busybox-static)"
fi

mkdir -p "$OUT_DIR"
OUT_DIR=$(cd "$OUT_DIR" && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/vmc-guest.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
chmod 755 "$WORK"   # apt's _apt user must be able to write downloads here

# ---- kernel package ------------------------------------------------------------------------
if ! apt-cache show linux-image-cloud-amd64 >/dev/null 2>&1; then
  die "apt does not know linux-image-cloud-amd64: the apt package lists are empty or stale. Run 'apt-get update' first."
fi
KPKG=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null \
  | sed -n 's/^ *Depends: *\(linux-image-[0-9][^ ]*-cloud-amd64\)$/\1/p' | head -n1)
[ -n "$KPKG" ] || die "could not resolve the versioned kernel package from 'apt-cache depends linux-image-cloud-amd64'"
log "kernel package: $KPKG"

( cd "$WORK" && apt-get download "$KPKG" >"$WORK/apt.log" 2>&1 ) || {
  cat "$WORK/apt.log" >&2
  die "apt-get download $KPKG failed (run 'apt-get update'? is the Debian mirror reachable?)"
}
DEB=$(ls "$WORK"/linux-image-*.deb 2>/dev/null | head -n1)
[ -n "$DEB" ] || die "apt-get download produced no .deb in $WORK"
mkdir -p "$WORK/deb"
dpkg-deb -x "$DEB" "$WORK/deb"

KVER=$(ls "$WORK/deb/lib/modules" | head -n1)
[ -n "$KVER" ] || die "no lib/modules/<version> in $DEB"
VMLINUZ="$WORK/deb/boot/vmlinuz-$KVER"
[ -f "$VMLINUZ" ] || die "kernel image $VMLINUZ missing from $DEB"
MODDIR="$WORK/deb/lib/modules/$KVER"
log "kernel version: $KVER"

# The .deb ships no modules.dep (depmod runs in postinst); generate it.
if [ ! -f "$MODDIR/modules.dep" ]; then
  if command -v depmod >/dev/null 2>&1; then
    depmod -b "$WORK/deb" "$KVER"
  else
    "$BUSYBOX" depmod -b "$WORK/deb" "$KVER"
  fi
fi
[ -f "$MODDIR/modules.dep" ] || die "modules.dep could not be generated for $KVER"

# ---- modules: resolve from modules.dep, skip builtins, dependency order --------------------
# Wanted drivers (order = preferred load order among independent modules). Dependencies are
# pulled in from modules.dep and placed before their users.
# ata_piix and sr_mod: Nova attaches its config drive as an IDE cdrom.
WANTED="virtio virtio_ring virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_blk
failover net_failover virtio_net button evdev cdrom ata_piix sr_mod isofs fat vfat nls_cp437 nls_ascii nls_utf8"

norm() { echo "$1" | tr '-' '_'; }
# path (relative to MODDIR) of a module by name, from modules.dep; empty if none
mod_path() {
  local n; n=$(norm "$1")
  awk -F: -v n="$n" '{ p=$1; b=p; sub(/.*\//, "", b); sub(/\.ko(\.[a-z]+)?$/, "", b); gsub(/-/, "_", b);
    if (b == n) { print p; exit } }' "$MODDIR/modules.dep"
}
is_builtin() {
  local n; n=$(norm "$1")
  [ -f "$MODDIR/modules.builtin" ] || return 1
  sed 's#.*/##; s#\.ko$##; s#-#_#g' "$MODDIR/modules.builtin" | grep -qx "$n"
}
deps_of() { # direct+transitive deps listed by modules.dep, as paths
  awk -F: -v p="$1" '$1 == p { print $2; exit }' "$MODDIR/modules.dep" | tr ' ' '\n' | sed '/^$/d'
}

ORDER=()      # module paths in load order
declare -A SEEN=()
visit() { # $1 = path
  local p=$1 d
  [ -n "${SEEN[$p]:-}" ] && return 0
  SEEN[$p]=visiting
  for d in $(deps_of "$p"); do
    [ "${SEEN[$d]:-}" = visiting ] && die "dependency cycle at $d"
    visit "$d"
  done
  SEEN[$p]=done
  ORDER+=("$p")
}
BUILTIN=()
for m in $WANTED; do
  if is_builtin "$m"; then BUILTIN+=("$m"); continue; fi
  p=$(mod_path "$m")
  [ -n "$p" ] || die "module $m is neither builtin nor in modules.dep of $KVER"
  visit "$p"
done
[ ${#BUILTIN[@]} -eq 0 ] || log "builtin (skipped): ${BUILTIN[*]}"

# ---- initramfs tree -------------------------------------------------------------------------
ROOT="$WORK/root"
mkdir -p "$ROOT"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,mnt/seed,run,tmp,etc,lib/modules/"$KVER"}
cp "$BUSYBOX" "$ROOT/bin/busybox"
chmod 755 "$ROOT/bin/busybox"
# applet symlinks at build time (init also runs `busybox --install -s` as a fallback)
for a in $("$BUSYBOX" --list); do
  case "$a" in busybox|init|linuxrc) continue ;; esac
  [ -e "$ROOT/bin/$a" ] || ln -s busybox "$ROOT/bin/$a"
done
cp "$INIT_SRC" "$ROOT/init"
chmod 755 "$ROOT/init"

# helper for user-data scripts: vmc-disk SERIAL [WAIT_SECONDS] -> /dev/vdX
cat >"$ROOT/bin/vmc-disk" <<'EOF'
#!/bin/sh
# vmc-disk SERIAL [WAIT_SECONDS]: print the /dev path of the virtio disk with that serial.
[ -n "$1" ] || { echo "usage: vmc-disk SERIAL [WAIT_SECONDS]" >&2; exit 2; }
want=$1; tries=$(( ${2:-0} * 2 ))
while :; do
  for b in /sys/block/vd*; do
    [ -e "$b/serial" ] || continue
    s=$(cat "$b/serial" 2>/dev/null)
    if [ "$s" = "$want" ]; then echo "/dev/${b##*/}"; exit 0; fi
  done
  [ "$tries" -gt 0 ] || break
  tries=$((tries - 1)); sleep 0.5
done
echo "vmc-disk: no virtio disk with serial '$want'" >&2
exit 1
EOF
chmod 755 "$ROOT/bin/vmc-disk"

: >"$ROOT/etc/vmc-modules"
LOADED_NAMES=()
for p in "${ORDER[@]}"; do
  src="$MODDIR/$p"
  [ -f "$src" ] || die "module file $src missing"
  case "$p" in *.ko) ;; *) die "compressed module $p not supported (busybox insmod needs plain .ko)" ;; esac
  mkdir -p "$ROOT/lib/modules/$KVER/$(dirname "$p")"
  cp "$src" "$ROOT/lib/modules/$KVER/$p"
  echo "/lib/modules/$KVER/$p" >>"$ROOT/etc/vmc-modules"
  n=${p##*/}; LOADED_NAMES+=("${n%.ko}")
done
log "modules (load order): ${LOADED_NAMES[*]}"
echo "$KVER" >"$ROOT/etc/vmc-kernel"

# /dev/console must exist in the initramfs so PID 1 gets stdio before devtmpfs is mounted
if [ "$(id -u)" = 0 ]; then
  mknod -m 600 "$ROOT/dev/console" c 5 1
  mknod -m 666 "$ROOT/dev/null" c 1 3
fi

( cd "$ROOT" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --owner=0:0 --quiet ) \
  | gzip -9 -n >"$WORK/initrd.img"

# ---- base image -----------------------------------------------------------------------------
printf 'VMCIMG:base-v1\n' >"$WORK/base.img"
truncate -s 32M "$WORK/base.img"

# ---- publish --------------------------------------------------------------------------------
cp "$VMLINUZ" "$OUT_DIR/vmlinuz.tmp" && mv -f "$OUT_DIR/vmlinuz.tmp" "$OUT_DIR/vmlinuz"
mv -f "$WORK/initrd.img" "$OUT_DIR/initrd.img"
mv -f "$WORK/base.img" "$OUT_DIR/base.img"

sha() { sha256sum "$1" | cut -d' ' -f1; }
MODS_JSON=$(printf '"%s",' "${LOADED_NAMES[@]}"); MODS_JSON="[${MODS_JSON%,}]"
cat >"$OUT_DIR/guest.json.tmp" <<EOF
{
  "kernelVersion": "$KVER",
  "kernelPackage": "$KPKG",
  "kernelSha256": "$(sha "$OUT_DIR/vmlinuz")",
  "initrdSha256": "$(sha "$OUT_DIR/initrd.img")",
  "baseSha256": "$(sha "$OUT_DIR/base.img")",
  "initSha256": "$INIT_SHA",
  "buildScriptSha256": "$BUILD_SHA",
  "modules": $MODS_JSON,
  "builtAt": "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
}
EOF
mv -f "$OUT_DIR/guest.json.tmp" "$OUT_DIR/guest.json"
log "built $OUT_DIR (vmlinuz, initrd.img, base.img, guest.json) in $(elapsed)"
