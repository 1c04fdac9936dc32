/**
 * What the test pass (CI) runs on a platform whose whole pass does not fit CI's time. The real OpenStack
 * cloud boots TCG guests here: its whole pass measured well over 30 minutes on the 2-core machine (6
 * requirements in 3.8 min, 8 in 16 min under load), against CI's 45-minute budget for everything. The
 * scope is requirements that create, start, inspect and delete real guests; `vmconform evaluate` always
 * runs every requirement, and nothing left out here is counted.
 */
export const testPassScope: Readonly<Record<string, { requirements: string; why: string }>> = {
  openstack: {
    requirements: 'LC-01,LC-02,NIC-01,DSK-02,INV-01,OBS-01',
    why: 'the whole pass on TCG guests does not fit CI (measured over 30 min); `vmconform evaluate -p openstack` runs every requirement',
  },
};
