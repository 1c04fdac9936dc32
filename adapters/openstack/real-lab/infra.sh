#!/bin/sh
# MariaDB, RabbitMQ, memcached on loopback, and a libvirtd of the lab's own (private mount namespace).
set -eu
. "$(dirname "$0")/common.sh"
mkdir -p "$ETC" "$LOG" "$PIDS" "$RUN" "$D/mysql" "$D/rabbit" "$D/libvirt"/etc "$D/libvirt"/lib "$D/libvirt"/run "$D/libvirt"/cache "$D/libvirt"/log
[ -f "$D/secret" ] || { head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$D/secret"; chmod 600 "$D/secret"; }

# ---- MariaDB --------------------------------------------------------------------------------
cat >"$ETC/my.cnf" <<C
[mysqld]
datadir=$D/mysql
socket=$RUN/mysqld.sock
port=$P_DB
bind-address=127.0.0.1
pid-file=$PIDS/mariadb.pid
log-error=$LOG/mariadb.log
user=root
skip-name-resolve
innodb_buffer_pool_size=64M
max_connections=500
performance_schema=off
character-set-server=utf8mb4
collation-server=utf8mb4_general_ci
C
if [ ! -d "$D/mysql/mysql" ]; then
  mariadb-install-db --defaults-file="$ETC/my.cnf" --user=root --auth-root-authentication-method=socket >"$LOG/mariadb-install.out" 2>&1
fi
if ! alive mariadb; then
  spawn mariadb-launch mariadbd --defaults-file="$ETC/my.cnf"
  for _ in $(seq 1 60); do mariadb --socket="$RUN/mysqld.sock" -e 'select 1' >/dev/null 2>&1 && break; sleep 0.5; done
fi
for db in keystone glance placement nova_api nova nova_cell0 neutron cinder; do
  u=${db%%_*}
  mariadb --socket="$RUN/mysqld.sock" -e "CREATE DATABASE IF NOT EXISTS $db; CREATE USER IF NOT EXISTS '$u'@'127.0.0.1' IDENTIFIED BY '$(pw)'; GRANT ALL ON $db.* TO '$u'@'127.0.0.1';"
done

# ---- RabbitMQ -------------------------------------------------------------------------------
cat >"$ETC/rabbitmq.conf" <<C
listeners.tcp.1 = 127.0.0.1:$P_AMQP
loopback_users = none
C
echo '[].' >"$ETC/rabbitmq-plugins"
rabbit_env() {
  env HOME="$D/rabbit" RABBITMQ_NODENAME=osreal@localhost RABBITMQ_MNESIA_BASE="$D/rabbit/mnesia" \
    RABBITMQ_LOG_BASE="$LOG" RABBITMQ_CONFIG_FILE="$ETC/rabbitmq" RABBITMQ_ENABLED_PLUGINS_FILE="$ETC/rabbitmq-plugins" \
    RABBITMQ_DIST_PORT=$P_DIST RABBITMQ_PID_FILE="$PIDS/rabbitmq.pid" \
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}" \
    ERL_EPMD_PORT=$P_EPMD "$@"
}
if ! alive rabbitmq; then
  rabbit_env /usr/lib/rabbitmq/bin/rabbitmq-server -detached >"$LOG/rabbitmq-launch.out" 2>&1
  rabbit_env /usr/lib/rabbitmq/bin/rabbitmqctl wait --timeout 120 "$PIDS/rabbitmq.pid" >/dev/null
fi
ss -ltnpH "sport = :$P_EPMD" | sed -n "s/.*pid=\([0-9]*\).*/\1/p" | head -1 >"$PIDS/epmd.pid"
rabbit_env /usr/lib/rabbitmq/bin/rabbitmqctl add_user osreal "$(pw)" >/dev/null 2>&1 || true
rabbit_env /usr/lib/rabbitmq/bin/rabbitmqctl set_permissions osreal '.*' '.*' '.*' >/dev/null

# ---- memcached ------------------------------------------------------------------------------
alive memcached || { memcached -d -u root -l 127.0.0.1 -p $P_MC -U 0 -m 64 -P "$PIDS/memcached.pid"; }

# ---- libvirtd of the lab's own ---------------------------------------------------------------
# Same recipe as the libvirt platform's site B: a private mount namespace where libvirt's run, state,
# config, cache and log directories are the lab's own, so Nova never sees the libvirt lab's domains and
# a libvirt suite restarting its daemon never disturbs Nova. The socket directory is a plain directory
# under $D, so nova-compute (outside the namespace) reaches it with ?socket=. Network namespace: the
# host's, so the taps it creates sit on the bridges Neutron's linuxbridge agent manages.
cp -n /etc/libvirt/qemu.conf "$D/libvirt/etc/qemu.conf"
cat >"$D/libvirt/etc/libvirtd.conf" <<C
unix_sock_rw_perms = "0700"
auth_unix_ro = "none"
auth_unix_rw = "none"
C
if ! alive libvirtd; then
  for b in libvirtd virtlogd; do ln -sf /usr/sbin/$b "$D/libvirt/$b-osreal"; done
  unshare -m --propagation private sh -c "
    mount --bind '$D/libvirt/run' /run/libvirt
    mount --bind '$D/libvirt/etc' /etc/libvirt
    mount --bind '$D/libvirt/lib' /var/lib/libvirt
    mount --bind '$D/libvirt/cache' /var/cache/libvirt
    mount --bind '$D/libvirt/log' /var/log/libvirt
    '$D/libvirt/virtlogd-osreal' -d -p '$PIDS/virtlogd.pid'
    '$D/libvirt/libvirtd-osreal' -d -f '$D/libvirt/etc/libvirtd.conf' -p '$PIDS/libvirtd.pid'
  "
  for _ in $(seq 1 60); do [ -S "$D/libvirt/run/libvirt-sock" ] && break; sleep 0.5; done
fi
echo "infra up"
