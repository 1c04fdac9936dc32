"""Service project, users, roles, services and endpoints in one process.

One `openstack` CLI call costs seconds of Python start-up on this machine (the catalog took 207 s that
way), and bookworm's osc-lib fails name lookups in `role add`; keystoneclient directly does it in ~2 s.
Usage: catalog.py <keystone-url> <password> <name:type:service-name:url>...
"""
import sys

from keystoneauth1 import session
from keystoneauth1.identity import v3
from keystoneclient.v3 import client

url, pw, specs = sys.argv[1], sys.argv[2], sys.argv[3:]
auth = v3.Password(auth_url=url, username='admin', password=pw, project_name='admin',
                   user_domain_name='Default', project_domain_name='Default')
ks = client.Client(session=session.Session(auth=auth))


def one(manager, name, **create):
    found = [x for x in manager.list() if x.name == name]
    return found[0] if found else manager.create(name=name, **create)


project = one(ks.projects, 'service', domain='default')
roles = {r: one(ks.roles, r) for r in ('admin', 'service')}
for spec in specs:
    user, stype, sname, endpoint = spec.split(':', 3)
    u = one(ks.users, user, domain='default', password=pw)
    for r in roles.values():
        ks.roles.grant(r, user=u, project=project)
    svc = [s for s in ks.services.list() if s.type == stype] or [ks.services.create(name=sname, type=stype)]
    have = {e.interface for e in ks.endpoints.list(service=svc[0])}
    for i in ('public', 'internal', 'admin'):
        if i not in have:
            ks.endpoints.create(service=svc[0], url=endpoint, interface=i, region='RegionOne')
print('catalog ready')
