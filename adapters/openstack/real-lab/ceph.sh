#!/bin/sh
# A one-mon, one-mgr, one-OSD Ceph (bluestore on a plain file: no LVM, no device-mapper) for Cinder's RBD driver.
# No cephx (auth none) and replication 1: a lab, not a cluster.
set -eu
. "$(dirname "$0")/common.sh"
C=$D/ceph; P_MON=26789
mkdir -p "$C/mon-a" "$C/osd-0" "$C/run" "$LOG"
[ -f "$C/fsid" ] || uuidgen >"$C/fsid"
cat >"$C/ceph.conf" <<X
[global]
fsid = $(cat "$C/fsid")
mon_host = v1:127.0.0.1:$P_MON
mon_initial_members = a
public_network = 127.0.0.0/8
ms_bind_msgr2 = false
ms_bind_ipv4 = true
auth_cluster_required = none
auth_service_required = none
auth_client_required = none
osd_pool_default_size = 1
osd_pool_default_min_size = 1
mon_allow_pool_size_one = true
osd_crush_chooseleaf_type = 0
run_dir = $C/run
log_file = $LOG/ceph-\$name.log
pid_file = $PIDS/ceph-\$name.pid
admin_socket = $C/run/\$name.asok
keyring = $C/keyring
mon_data = $C/mon-\$id
osd_data = $C/osd-\$id
mgr_data = $C/mgr-\$id
osd_objectstore = bluestore
bluestore_block_path = $C/osd-\$id.block
bluestore_block_create = true
bluestore_block_size = 4294967296
bluestore_cache_size = 134217728
osd_memory_target = 536870912
mon_osd_down_out_interval = 0
# The OSD would place itself in the CRUSH map at start; with auth none that command leaves before the
# monmap arrives and the monitor refuses it ("wrong fsid", fsid 0). ceph.sh places osd.0 instead.
osd_crush_update_on_start = false
osd_class_update_on_start = false
X
if [ ! -f "$C/mon-a/done" ]; then
  ceph-authtool --create-keyring "$C/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
  # v1 only: QEMU and libvirt name monitors as plain ip:port, which librbd reads as msgr v1.
  monmaptool --create --addv a "[v1:127.0.0.1:$P_MON]" --fsid "$(cat "$C/fsid")" "$C/monmap" >/dev/null
  ceph-mon -c "$C/ceph.conf" --mkfs -i a --monmap "$C/monmap" --keyring "$C/keyring"
  touch "$C/mon-a/done"
fi
alive ceph-mon.a || ceph-mon -c "$C/ceph.conf" -i a
# bin/ceph retries the refusal auth none causes (see there).
ceph() { "$(dirname "$0")/bin/ceph" -c "$C/ceph.conf" "$@"; }
# Right after a start the monitor may answer a client that has no monmap yet with EPERM ("handle_command
# on fsid 0"): retried until it answers properly.
for i in $(seq 1 30); do ceph -s --connect-timeout 10 >/dev/null 2>&1 && break; [ "$i" = 30 ] && ceph -s --connect-timeout 10; sleep 1; done
if [ ! -f "$C/osd-0/done" ]; then
  [ -f "$C/osd-0.uuid" ] || uuidgen >"$C/osd-0.uuid"
  # The OSD's uuid given to both sides; a bare `osd create` leaves the OSD "wrong fsid" at boot.
  ceph osd new "$(cat "$C/osd-0.uuid")" 0 >/dev/null
  ceph-osd -c "$C/ceph.conf" -i 0 --mkfs --osd-uuid "$(cat "$C/osd-0.uuid")" 2>"$LOG/ceph-osd-mkfs.out"
  ceph osd crush add-bucket lab host >/dev/null 2>&1 || true
  ceph osd crush move lab root=default >/dev/null 2>&1 || true
  ceph osd crush add osd.0 1.0 host=lab >/dev/null
  touch "$C/osd-0/done"
fi
alive ceph-osd.0 || ceph-osd -c "$C/ceph.conf" -i 0
for _ in $(seq 1 60); do ceph osd stat 2>/dev/null | grep -q '1 up' && break; sleep 1; done
# A mgr answers `ceph df`: without it Cinder's RBD driver reports the pool's capacity as 'unknown'.
if command -v ceph-mgr >/dev/null; then
  mkdir -p "$C/mgr-x"; alive ceph-mgr.x || ceph-mgr -c "$C/ceph.conf" -i x
  # A host stopped hard (a killed VM or machine) can lose a write this single OSD had acknowledged: its PG
  # then waits for a copy no other OSD has (recovery_unfound) and every RBD call touching the object hangs;
  # Cinder's start-up clean-up of a volume did, for good. The pool holds only the harness's volumes, so
  # the lab forgets the lost writes (an older version where one exists) and says which objects they were.
  # PG states come from the mgr (a `pg stat` without one waits for ever), so this needs it running.
  cephT() { timeout 20 "$(dirname "$0")/bin/ceph" -c "$C/ceph.conf" "$@"; }
  for _ in $(seq 1 30); do
    st=$(cephT pg stat 2>/dev/null)
    case $st in *' active'*) echo "$st" | grep -Eq 'peering|activating|unknown' || break;; esac; sleep 1
  done
  for pg in $(cephT health detail 2>/dev/null | sed -n 's/^ *pg \([0-9a-f.]*\) has [0-9]* unfound object.*/\1/p'); do
    lost=$(cephT pg "$pg" list_unfound 2>/dev/null | sed -n 's/^ *"oid": "\(.*\)",$/\1/p' | tr '\n' ' ')
    echo "ceph: pg $pg lost writes in a hard stop (objects: ${lost:-?}); marking them lost (revert)"
    cephT pg "$pg" mark_unfound_lost revert >/dev/null
  done
fi
ceph osd pool ls | grep -qx volumes || { ceph osd pool create volumes 32 >/dev/null; ceph osd pool set volumes size 1 --yes-i-really-mean-it >/dev/null; rbd -c "$C/ceph.conf" pool init volumes; }
ceph -s
