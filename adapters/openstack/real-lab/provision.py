"""What the suites need on the cloud, made once (idempotent): the guest in Glance and the lab's networks.

The guest is the libvirt lab's build (kernel as aki, initrd as ari, the base disk as raw with
kernel_id/ramdisk_id/os_command_line: Nova's libvirt driver boots it by direct kernel boot, as the
libvirt lab does). Images carry the guest build's digest; a rebuilt guest replaces them.
Networks: flat provider networks (no 802.1q here), shared, one per physnet.
Usage: provision.py <keystone-url> <password-file> <guest-dir> <image-name> <net:physnet:cidr:dhcp>...
Prints one JSON line: the ids it found or made.
"""
import json
import os
import sys
import time

from keystoneauth1 import session
from keystoneauth1.identity import v3

url, pwfile, guest, image_name, nets = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
with open(pwfile) as f:
    pw = f.read().strip()
auth = v3.Password(auth_url=url, username='admin', password=pw, project_name='admin',
                   user_domain_name='Default', project_domain_name='Default')
s = session.Session(auth=auth)
glance = {'service_type': 'image', 'interface': 'public'}
neutron = {'service_type': 'network', 'interface': 'public'}
with open(os.path.join(guest, 'guest.json')) as f:
    meta = json.load(f)
digest = f"{meta['kernelSha256'][:16]}-{meta['initrdSha256'][:16]}-{meta['baseSha256'][:16]}"


def images(name):
    return s.get(f'/v2/images?name={name}', endpoint_filter=glance).json()['images']


def upload(name, disk_format, path, **props):
    body = {'name': name, 'disk_format': disk_format, 'container_format': disk_format if disk_format in ('aki', 'ari') else 'bare',
            'visibility': 'public', 'vmc_guest': digest, **props}
    img = s.post('/v2/images', json=body, endpoint_filter=glance).json()
    with open(path, 'rb') as f:
        s.put(f"/v2/images/{img['id']}/file", data=f, endpoint_filter=glance,
              headers={'Content-Type': 'application/octet-stream'})
    return img['id']


out = {}
current = [i for i in images(image_name) if i.get('vmc_guest') == digest and i['status'] == 'active']
if current:
    out['image'] = current[0]['id']
else:
    # A guest rebuilt since: its old images go (servers booted from them keep their own volumes).
    for n in (image_name, f'{image_name}-kernel', f'{image_name}-initrd'):
        for i in images(n):
            s.delete(f"/v2/images/{i['id']}", endpoint_filter=glance)
    k = upload(f'{image_name}-kernel', 'aki', os.path.join(guest, 'vmlinuz'))
    r = upload(f'{image_name}-initrd', 'ari', os.path.join(guest, 'initrd.img'))
    out['image'] = upload(image_name, 'raw', os.path.join(guest, 'base.img'), kernel_id=k, ramdisk_id=r,
                          os_command_line='console=ttyS0 quiet panic=-1')
    out['uploaded'] = True

for spec in nets:
    name, physnet, cidr, dhcp = spec.split(':')
    have = s.get(f'/v2.0/networks?name={name}', endpoint_filter=neutron).json()['networks']
    net = have[0] if have else s.post('/v2.0/networks', endpoint_filter=neutron, json={'network': {
        'name': name, 'shared': True, 'provider:network_type': 'flat', 'provider:physical_network': physnet}}).json()['network']
    if not net['subnets']:
        s.post('/v2.0/subnets', endpoint_filter=neutron, json={'subnet': {
            'name': f'{name}-subnet', 'network_id': net['id'], 'ip_version': 4, 'cidr': cidr,
            'enable_dhcp': dhcp == 'dhcp', 'gateway_ip': None}})
    out[name] = net['id']

# The suites' project (admin) may hold more than the default quotas (10 volumes, 10 instances): LC-08
# alone makes 4 servers with 8 volumes, and what a hard-stopped run left must not fail the next run's
# creates with VolumeLimitExceeded before the lab's clean-up reaches it. Quotas are not under test here.
project = s.get_project_id()
s.put(f'/os-quota-sets/{project}', endpoint_filter={'service_type': 'compute', 'interface': 'public'},
      json={'quota_set': {'instances': 100, 'cores': 200, 'ram': 409600}}).raise_for_status()
s.put(f'/os-quota-sets/{project}', endpoint_filter={'service_type': 'block-storage', 'interface': 'public'},
      json={'quota_set': {'volumes': 200, 'snapshots': 200, 'backups': 200, 'gigabytes': 2000,
                          'backup_gigabytes': 2000}}).raise_for_status()

# Ready for guests: the compute host registered (cell discovery runs every 30 s) and the bridge agent alive.
nova = {'service_type': 'compute', 'interface': 'public'}
deadline = time.time() + 300
while True:
    hyps = s.get('/os-hypervisors', endpoint_filter=nova).json()['hypervisors']
    computes = [x for x in s.get('/os-services?binary=nova-compute', endpoint_filter=nova).json()['services'] if x['state'] == 'up']
    agents = s.get('/v2.0/agents?agent_type=Linux%20bridge%20agent', endpoint_filter=neutron).json()['agents']
    if hyps and computes and any(a['alive'] for a in agents):
        break
    if time.time() > deadline:
        sys.exit(f'not ready for guests after 300 s: hypervisors {len(hyps)}, computes up {len(computes)}, bridge agents {agents}')
    time.sleep(3)
out['hypervisor'] = hyps[0]['hypervisor_hostname']
print(json.dumps(out))
