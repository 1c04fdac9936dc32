#!/bin/sh
# Writes every service's configuration under $D/etc (the packages' own /etc files are left untouched
# and only read: paste pipelines, rootwrap filters).
set -eu
. "$(dirname "$0")/common.sh"
# qemu (TCG) unless the lab found KVM that boots a guest (OSREAL_VIRT_TYPE=kvm).
VIRT_TYPE=${OSREAL_VIRT_TYPE:-qemu}
PW=$(pw); KS=http://127.0.0.1:$P_KS; DB="mysql+pymysql://%s:$PW@127.0.0.1:$P_DB/%s?charset=utf8mb4"
AMQP="rabbit://osreal:$PW@127.0.0.1:$P_AMQP/"
mkdir -p "$ETC"/keystone "$ETC"/glance "$ETC"/placement "$ETC"/nova "$ETC"/neutron "$ETC"/cinder \
  "$D"/keystone/fernet-keys "$D"/keystone/credential-keys "$D"/glance/images "$D"/glance/staging "$D"/glance/tasks \
  "$D"/glance/cache "$D"/nova/instances "$D"/neutron "$D"/cinder "$D"/lock "$D"/uwsgi
db() { printf "$DB" "$1" "$2"; }
authtoken() { cat <<C
[keystone_authtoken]
www_authenticate_uri = $KS
auth_url = $KS
memcached_servers = 127.0.0.1:$P_MC
auth_type = password
project_domain_name = Default
user_domain_name = Default
project_name = service
username = $1
password = $PW
service_token_roles_required = true
C
}
svcauth() { cat <<C
[$1]
auth_url = $KS
auth_type = password
project_domain_name = Default
user_domain_name = Default
region_name = RegionOne
project_name = service
username = $2
password = $PW
C
}
common() { cat <<C
[DEFAULT]
log_dir = $LOG
transport_url = $AMQP
[oslo_concurrency]
lock_path = $D/lock
C
}

cat >"$ETC/keystone/keystone.conf" <<C
[DEFAULT]
log_dir = $LOG
[database]
connection = $(db keystone keystone)
[token]
provider = fernet
[fernet_tokens]
key_repository = $D/keystone/fernet-keys
[credential]
key_repository = $D/keystone/credential-keys
[cache]
enabled = true
backend = dogpile.cache.pymemcache
memcache_servers = 127.0.0.1:$P_MC
C

{ cat <<C
[DEFAULT]
log_dir = $LOG
bind_host = 127.0.0.1
bind_port = $P_GL
workers = 1
enabled_backends = file:file
image_cache_dir = $D/glance/cache
[glance_store]
default_backend = file
[file]
filesystem_store_datadir = $D/glance/images
[os_glance_staging_store]
filesystem_store_datadir = $D/glance/staging
[os_glance_tasks_store]
filesystem_store_datadir = $D/glance/tasks
[database]
connection = $(db glance glance)
[paste_deploy]
flavor = keystone
config_file = /etc/glance/glance-api-paste.ini
[oslo_concurrency]
lock_path = $D/lock
C
authtoken glance; } >"$ETC/glance/glance-api.conf"

{ cat <<C
[DEFAULT]
log_dir = $LOG
[placement_database]
connection = $(db placement placement)
[api]
auth_strategy = keystone
C
authtoken placement; } >"$ETC/placement/placement.conf"

{ common; cat <<C
[DEFAULT]
state_path = $D/nova
instances_path = $D/nova/instances
my_ip = 127.0.0.1
enabled_apis = osapi_compute,metadata
osapi_compute_listen = 127.0.0.1
osapi_compute_listen_port = $P_NOVA
osapi_compute_workers = 1
metadata_listen = 127.0.0.1
metadata_listen_port = $P_META
metadata_workers = 1
compute_driver = libvirt.LibvirtDriver
rootwrap_config = /etc/nova/rootwrap.conf
allow_resize_to_same_host = true
[wsgi]
api_paste_config = /etc/nova/api-paste.ini
[api]
auth_strategy = keystone
[api_database]
connection = $(db nova nova_api)
[database]
connection = $(db nova nova)
[conductor]
workers = 1
[scheduler]
workers = 1
discover_hosts_in_cells_interval = 30
[vnc]
enabled = false
[spice]
enabled = false
[glance]
region_name = RegionOne
[libvirt]
virt_type = $VIRT_TYPE
cpu_mode = none
connection_uri = qemu:///system?socket=$D/libvirt/run/libvirt-sock
[neutron]
service_metadata_proxy = true
metadata_proxy_shared_secret = $PW
C
svcauth neutron-auth neutron | sed 's/^\[neutron-auth\]//'
svcauth placement nova; svcauth service_user nova; echo "send_service_user_token = true"
svcauth cinder nova | sed 's/^region_name.*/os_region_name = RegionOne/'
authtoken nova; } >"$ETC/nova/nova.conf"

{ common; cat <<C
[DEFAULT]
state_path = $D/neutron
bind_host = 127.0.0.1
bind_port = $P_NEUTRON
api_workers = 1
rpc_workers = 1
rpc_state_report_workers = 1
core_plugin = ml2
service_plugins =
auth_strategy = keystone
notify_nova_on_port_status_changes = true
notify_nova_on_port_data_changes = true
api_paste_config = /etc/neutron/api-paste.ini
metadata_proxy_socket = $D/neutron/metadata_proxy
[database]
connection = $(db neutron neutron)
[agent]
root_helper = sudo /usr/bin/neutron-rootwrap /etc/neutron/rootwrap.conf
[experimental]
linuxbridge = true
C
svcauth nova nova; authtoken neutron; } >"$ETC/neutron/neutron.conf"
cat >"$ETC/neutron/ml2.ini" <<C
[ml2]
type_drivers = flat
tenant_network_types =
mechanism_drivers = linuxbridge
extension_drivers = port_security
[ml2_type_flat]
flat_networks = physnet1,physnet2,physnet3
C
cat >"$ETC/neutron/linuxbridge.ini" <<C
[linux_bridge]
# Two flat networks on veths the lab made (network, network2: no 802.1q here, so no VLANs), and a
# third on a bridge the lab made and Neutron did not (the external bridge, NIC-05).
physical_interface_mappings = physnet1:$PHYS_IF,physnet2:$PHYS2_IF
bridge_mappings = physnet3:$EXT_BR
[vxlan]
enable_vxlan = false
[securitygroup]
enable_security_group = false
firewall_driver = noop
C
cat >"$ETC/neutron/dhcp.ini" <<C
[DEFAULT]
interface_driver = linuxbridge
enable_isolated_metadata = true
C
cat >"$ETC/neutron/metadata.ini" <<C
[DEFAULT]
nova_metadata_host = 127.0.0.1
nova_metadata_port = $P_META
metadata_proxy_shared_secret = $PW
metadata_workers = 1
C

BACKEND=fake; [ -f "$D/ceph/ceph.conf" ] && BACKEND=rbd
{ common; cat <<C
[DEFAULT]
state_path = $D/cinder
osapi_volume_listen = 127.0.0.1
osapi_volume_listen_port = $P_CINDER
osapi_volume_workers = 1
auth_strategy = keystone
api_paste_config = /etc/cinder/api-paste.ini
rootwrap_config = /etc/cinder/rootwrap.conf
enabled_backends = $BACKEND
# Backups as files: the Ceph backup driver reads the source volume as its rbd_user, which this lab
# leaves unset (auth none), and refuses the empty name ("invalid user ''"). The POSIX driver reads the
# volume through os-brick's user-space RBD handle instead.
backup_driver = cinder.backup.drivers.posix.PosixBackupDriver
backup_posix_path = $D/cinder/backups
[database]
connection = $(db cinder cinder)
# Without Ceph: an API-only fake (volumes reach "available"; attach fails in os-brick).
[fake]
volume_backend_name = fake
volume_driver = cinder.tests.fake_driver.FakeLoggingVolumeDriver
# No rbd_user: Cinder then reports auth_enabled=false and Nova's libvirt needs no secret (auth none).
[rbd]
volume_backend_name = rbd
volume_driver = cinder.volume.drivers.rbd.RBDDriver
rbd_pool = volumes
rbd_ceph_conf = $D/ceph/ceph.conf
C
# Cinder tells Nova about a volume it extended (os-server-external-events); without this section the
# event fails ("Failed to notify nova") and a running guest never sees the new size.
svcauth nova cinder
authtoken cinder; } >"$ETC/cinder/cinder.conf"
echo "configs written"
