# Shared settings for the real-OpenStack lab scripts (sourced, not run).
# Everything lives under $D; every daemon writes its PID under $D/pids so `down.sh` stops exactly those.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
D=${OSREAL_DIR:-/var/lib/vmconform/openstack-real}
ETC=$D/etc; LOG=$D/log; PIDS=$D/pids; RUN=$D/run
# Loopback ports away from every default and below the ephemeral range (32768+), so neither a distro
# service, another lab nor an outgoing connection can hold them first.
P_DB=13306 P_AMQP=25682 P_DIST=25683 P_EPMD=24369 P_MC=21211
P_KS=25000 P_GL=29292 P_PL=28778 P_NOVA=28774 P_META=28775 P_NEUTRON=29696 P_CINDER=28776
PHYS_IF=osr-phys0 PHYS_PEER=osr-phys1 PHYS2_IF=osr-phys2 PHYS2_PEER=osr-phys3 EXT_BR=osr-ext0
PY=/usr/bin/python3
export ERL_EPMD_PORT=$P_EPMD ERL_EPMD_ADDRESS=127.0.0.1
pw() { cat "$D/secret"; }
pidof_svc() { [ -f "$PIDS/$1.pid" ] && cat "$PIDS/$1.pid"; }
alive() { p=$(pidof_svc "$1") && [ -n "$p" ] && kill -0 "$p" 2>/dev/null; }
# Start a foreground daemon in the background, log to $LOG/<name>.out, record its PID.
spawn() { name=$1; shift; setsid "$@" >"$LOG/$name.out" 2>&1 </dev/null & echo $! >"$PIDS/$name.pid"; }
# Wait until a URL answers (any HTTP status); prints the seconds it took.
wait_http() { tw=$(date +%s.%N); for _ in $(seq 1 ${3:-240}); do
  if curl -s -o /dev/null -m 2 "$2"; then echo "$1 answered after $(echo "$(date +%s.%N) - $tw" | bc) s"; return 0; fi
  sleep 0.5; done; echo "$1 did not answer at $2"; return 1; }
# Wait until a Nova service's heartbeat (nova.services.updated_at) is newer than $2 (epoch seconds).
wait_heartbeat() { for _ in $(seq 1 300); do
  hb=$(mysql --socket="$RUN/mysqld.sock" -N -B -e "SET time_zone='+00:00'; SELECT COALESCE(MAX(UNIX_TIMESTAMP(updated_at)), 0) FROM nova.services WHERE \`binary\`='$1' AND deleted=0" 2>/dev/null | tail -1)
  if [ "${hb%.*}" -gt "$2" ] 2>/dev/null; then echo "$1 reported in $(( $(date +%s) - $2 )) s after its start"; return 0; fi
  sleep 0.5; done; echo "$1 sent no heartbeat within 150 s of its start"; return 1; }
osc() { OS_AUTH_URL=http://127.0.0.1:$P_KS/v3 OS_USERNAME=admin OS_PASSWORD=$(pw) OS_PROJECT_NAME=admin \
  OS_USER_DOMAIN_NAME=Default OS_PROJECT_DOMAIN_NAME=Default OS_IDENTITY_API_VERSION=3 OS_REGION_NAME=RegionOne \
  openstack "$@"; }
