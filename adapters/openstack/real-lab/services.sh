#!/bin/sh
# Database schemas, Keystone (uwsgi), the catalog, then every API and agent, each started by hand.
# Usage: services.sh [step...]   steps: keystone catalog glance placement nova neutron cinder (default all),
# novad (Nova's daemons only)
set -eu
. "$(dirname "$0")/common.sh"
PW=$(pw); KS=http://127.0.0.1:$P_KS

uwsgi_app() { # name port wsgi-file env-assignments...
  name=$1 port=$2 file=$3; shift 3
  { printf '[uwsgi]\nplugins = python3\nmaster = true\nprocesses = 1\nthreads = 4\nenable-threads = true\n'
    printf 'add-header = Connection: close\nlazy-apps = true\ndie-on-term = true\nbuffer-size = 65535\nhttp-socket = 127.0.0.1:%s\n' "$port"
    printf 'wsgi-file = %s\npidfile = %s\nlogto = %s\n' "$file" "$PIDS/$name.pid" "$LOG/$name.log"
    for e in "$@"; do printf 'env = %s\n' "$e"; done; } >"$D/uwsgi/$name.ini"
  alive "$name" || uwsgi --ini "$D/uwsgi/$name.ini" --daemonize2 "$LOG/$name.log"
}
daemon() { name=$1; shift; alive "$name" || spawn "$name" "$@"; }

step_keystone() {
  keystone-manage --config-file "$ETC/keystone/keystone.conf" db_sync
  keystone-manage --config-file "$ETC/keystone/keystone.conf" fernet_setup --keystone-user root --keystone-group root
  keystone-manage --config-file "$ETC/keystone/keystone.conf" credential_setup --keystone-user root --keystone-group root
  uwsgi_app keystone $P_KS /usr/bin/keystone-wsgi-public "OS_KEYSTONE_CONFIG_FILES=$ETC/keystone/keystone.conf"
  wait_http keystone "$KS/v3"
  keystone-manage --config-file "$ETC/keystone/keystone.conf" bootstrap --bootstrap-password "$PW" \
    --bootstrap-admin-url "$KS/v3/" --bootstrap-internal-url "$KS/v3/" --bootstrap-public-url "$KS/v3/" \
    --bootstrap-region-id RegionOne
}
step_catalog() {
  $PY "$(dirname "$0")/catalog.py" "$KS/v3" "$PW" "glance:image:glance:http://127.0.0.1:$P_GL" \
    "placement:placement:placement:http://127.0.0.1:$P_PL" "nova:compute:nova:http://127.0.0.1:$P_NOVA/v2.1" \
    "neutron:network:neutron:http://127.0.0.1:$P_NEUTRON" \
    "cinder:block-storage:cinderv3:http://127.0.0.1:$P_CINDER/v3/%(project_id)s"
}
step_glance() {
  glance-manage --config-file "$ETC/glance/glance-api.conf" db_sync >"$LOG/glance-dbsync.out" 2>&1
  daemon glance-api glance-api --config-file "$ETC/glance/glance-api.conf"
  wait_http glance "http://127.0.0.1:$P_GL/"
}
step_placement() {
  placement-manage --config-file "$ETC/placement/placement.conf" db sync
  uwsgi_app placement $P_PL /usr/bin/placement-api "OS_PLACEMENT_CONFIG_DIR=$ETC/placement"
  wait_http placement "http://127.0.0.1:$P_PL/"
}
step_nova() {
  c="--config-file $ETC/nova/nova.conf"
  nova-manage $c api_db sync
  nova-manage $c cell_v2 list_cells 2>/dev/null | grep -q ' cell0 ' || nova-manage $c cell_v2 map_cell0
  nova-manage $c cell_v2 list_cells 2>/dev/null | grep -q ' cell1 ' || nova-manage $c cell_v2 create_cell --name=cell1
  nova-manage $c db sync
  step_novad
}
# Nova's daemons alone (the lab's control-plane restart: guests keep running under libvirtd).
step_novad() {
  c="--config-file $ETC/nova/nova.conf"
  t0=$(date +%s) fresh=no; alive nova-compute || fresh=yes
  daemon nova-api nova-api $c
  daemon nova-conductor nova-conductor $c
  daemon nova-scheduler nova-scheduler $c
  daemon nova-compute nova-compute $c
  wait_http nova-api "http://127.0.0.1:$P_NOVA/"
  # A starting nova-compute errors out every build the scheduler placed on it before its init_host ended
  # (nova/compute/manager.py, _error_out_instances_whose_build_was_interrupted): a create right after a
  # restart went to ERROR with no fault. Its first heartbeat comes after init_host and the RPC server
  # (nova/service.py start, servicegroup join with a 5 s initial delay), so wait for that.
  [ "$fresh" = no ] || wait_heartbeat nova-compute "$t0"
}
step_neutron() {
  c="--config-file $ETC/neutron/neutron.conf"
  neutron-db-manage $c --config-file "$ETC/neutron/ml2.ini" upgrade head >"$LOG/neutron-dbsync.out" 2>&1
  for pair in "$PHYS_IF:$PHYS_PEER" "$PHYS2_IF:$PHYS2_PEER"; do a=${pair%:*} b=${pair#*:}
    ip link show "$a" >/dev/null 2>&1 || { ip link add "$a" type veth peer name "$b"; ip link set "$a" up; ip link set "$b" up; }
  done
  # The external bridge: made by the lab, not by Neutron (NIC-05); L2 only, no addresses, fixed MAC.
  ip link show "$EXT_BR" >/dev/null 2>&1 || { ip link add "$EXT_BR" type bridge; ip link set "$EXT_BR" address 02:76:6d:63:00:51
    ip link set "$EXT_BR" addrgenmode none; sysctl -q -w "net.ipv6.conf.$EXT_BR.disable_ipv6=1"; ip link set "$EXT_BR" up; }
  daemon neutron-server neutron-server $c --config-file "$ETC/neutron/ml2.ini"
  daemon neutron-linuxbridge-agent neutron-linuxbridge-agent $c --config-file "$ETC/neutron/linuxbridge.ini"
  daemon neutron-dhcp-agent neutron-dhcp-agent $c --config-file "$ETC/neutron/dhcp.ini"
  daemon neutron-metadata-agent neutron-metadata-agent $c --config-file "$ETC/neutron/metadata.ini"
  wait_http neutron "http://127.0.0.1:$P_NEUTRON/"
}
step_cinder() {
  c="--config-file $ETC/cinder/cinder.conf"
  cinder-manage $c db sync >"$LOG/cinder-dbsync.out" 2>&1
  daemon cinder-api cinder-api $c
  daemon cinder-scheduler cinder-scheduler $c
  # bin/ceph retries the one refusal auth none causes (see there); Cinder runs `ceph` at every attach.
  cephpath=$(cd "$(dirname "$0")/bin" && pwd):$PATH
  daemon cinder-volume env PATH="$cephpath" cinder-volume $c
  mkdir -p "$D/cinder/backups"
  daemon cinder-backup env PATH="$cephpath" cinder-backup $c
  wait_http cinder "http://127.0.0.1:$P_CINDER/"
}
for s in ${*:-keystone catalog glance placement nova neutron cinder}; do
  t0=$(date +%s.%N); "step_$s"; echo "step $s took $(echo "$(date +%s.%N) - $t0" | bc) s"
done
