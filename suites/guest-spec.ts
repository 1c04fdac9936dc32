/**
 * The declared spec as the guest sees it: CPUs, memory, every NIC's MAC in order, every disk by serial
 * with its size, firmware and user data, compared with what was declared (or, where the platform may
 * choose, what it read back). The API's read-back alone proves nothing about the guest; these checks
 * are `guest` proof. What a guest cannot see (a container has no firmware; a simulator's guest reports
 * no CPUs) is recorded as unobservable, with why, so the report says what was not proven.
 */
import { createHash } from 'node:crypto';
import type { Capabilities, VmSpec, VmState } from '../adapters/contract/index.js';
import type { Checks } from '../evidence/checks.js';
import { describeMemory, guestMemory } from '../host/guest/memory.js';
import type { Boot } from '../host/guest/report.js';

/** The memory (MiB) the guest was given, and where that figure comes from; undefined when it cannot tell. */
export function guestMemoryMiB(caps: Capabilities, boot: Boot): { mib: number; how: string } | undefined {
  const r = boot.ready;
  if (caps.instanceType === 'container')
    return r.memKiB === undefined
      ? undefined
      : { mib: r.memKiB / 1024, how: 'the cgroup memory limit the container sees' };
  const m = r.memmap && guestMemory(r.memmap, r.memKiB);
  return m ? { mib: m.spanKiB / 1024, how: describeMemory(m, r.memKiB) } : undefined;
}

/** What a guest boot saw of its hardware, for comparing one boot with another (LC-04). */
export function guestHardware(caps: Capabilities, boot: Boot) {
  const state = boot.states.at(-1);
  return {
    cpus: boot.ready.cpus,
    memoryMiB: guestMemoryMiB(caps, boot)?.mib,
    firmware: boot.ready.firmware,
    nics: state?.nics.map((n) => n.mac),
    disks: state?.disks.map((d) => `${d.serial}:${d.bytes}`).sort(),
  };
}

/**
 * Compares the guest's view in `boot` with `spec` (and, where the platform chooses a value, with the
 * config `inspected` read back). `when` names the moment (e.g. 'after reboot') in the check names.
 */
export function checkGuestSeesSpec(
  c: Checks,
  caps: Capabilities,
  spec: VmSpec,
  inspected: VmState,
  boot: Boot,
  when = '',
): void {
  const g = c.guest;
  const at = when ? ` ${when}` : '';
  const container = caps.instanceType === 'container';
  const r = boot.ready;
  const state = boot.states.at(-1);

  if (r.cpus === undefined) g.unobservable(`CPUs${at}`, 'the guest does not report its CPUs');
  else g.declared(`CPUs${at}`, spec.vcpus, r.cpus);

  const mem = guestMemoryMiB(caps, boot);
  if (!mem) g.unobservable(`memory (MiB)${at}`, 'the guest reports no memory figure it was given');
  else g.declared(`memory (MiB)${at}`, spec.memoryMiB, mem.mib, mem.how);

  if (!state) {
    g.ok(`the guest reported its devices${at}`, false, 'no STATE line in this boot');
    return;
  }
  // The platform may choose a MAC the spec left open: the guest must then show the one read back.
  const macs = spec.nics.map((n, i) => (n.mac ?? inspected.config.nics[i]?.mac ?? '?').toLowerCase());
  g.declared(
    `NIC MACs in order${at}`,
    macs,
    state.nics.map((n) => n.mac),
  );

  // Disks by the serial inspection reports (the platform may choose it); the declared size is a floor
  // (a platform may round up), and the guest must see what inspection reports where the lab enforces sizes.
  const data = inspected.config.disks.filter((d) => d.role === 'data');
  const seen = state.disks.map((d) => d.serial || d.name).join(', ');
  spec.disks.forEach((declared, i) => {
    const api = data[i];
    const name = `disk ${api?.serial ?? declared.name} size (bytes)${at}`;
    const guest = api ? state.disks.find((d) => d.serial === api.serial) : undefined;
    if (!guest) {
      g.declared(name, declared.sizeBytes, 'not seen', `the guest sees: ${seen}`);
      return;
    }
    if (caps.prereqMissing['disk-size']) {
      g.ok(`disk ${api?.serial} seen by serial${at}`, true);
      g.unobservable(name, caps.prereqMissing['disk-size']);
      return;
    }
    const ok = guest.bytes >= declared.sizeBytes && guest.bytes === api?.sizeBytes;
    g.declared(name, ok ? guest.bytes : declared.sizeBytes, guest.bytes, `inspection reports ${api?.sizeBytes}`);
  });

  const fw = spec.firmware ?? inspected.config.firmware;
  if (container) g.unobservable(`firmware${at}`, 'a container is started by its host kernel, not by firmware');
  else if (r.firmware === undefined) g.unobservable(`firmware${at}`, 'the guest does not report how it was started');
  else if (fw !== undefined) g.declared(`firmware${at}`, fw, r.firmware);

  if (spec.userData !== undefined)
    g.declared(
      `user data (sha256)${at}`,
      createHash('sha256').update(spec.userData).digest('hex'),
      boot.userdata?.sha256 ?? 'none delivered',
    );
}
