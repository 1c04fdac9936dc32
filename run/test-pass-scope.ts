/**
 * What the test pass (CI) leaves out on a platform whose whole pass does not fit CI's time. The real
 * OpenStack cloud boots TCG guests here: its whole pass took 40 min on the 2-core machine, of which LC-07
 * alone (20 repetitions, each creating and booting a VM) is about 12, against CI's 45-minute budget for
 * everything. `vmconform evaluate` always runs every requirement, and nothing left out here is counted.
 */
export const testPassScope: Readonly<Record<string, { skip: string; why: string }>> = {
  openstack: {
    skip: 'LC-07,OPS-02',
    why: "LC-07's 20 create-and-boot repetitions take about 12 min on the real cloud's TCG guests, more than CI's 45-minute budget holds beside the rest, and OPS-02 spends 75 s to end not-implemented (its evacuation step needs a second compute host); `vmconform evaluate -p openstack` runs both",
  },
};
