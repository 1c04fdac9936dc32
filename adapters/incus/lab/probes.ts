/** What the Incus lab measures about this host: can a VM start, are volume sizes applied, can a NIC be VLAN-tagged. */
import { sh } from '../../../host/host.js';
import { incusLabDefaults as d, type IncusLabState, incus } from './state.js';

/** Tries a real VM start; Incus's own error is the evidence for every VM-only verdict. */
export async function probeVm(): Promise<IncusLabState['vm']> {
  const name = 'vmc-lab-vmprobe';
  const p = ['--project', d.project];
  await incus(['delete', '--force', name, ...p], true);
  const create = await incus(['init', d.vmImage, name, '--vm', ...p, '-c', 'user.vmconform.lab=probe'], true);
  if (create.exitCode !== 0) return { canStart: false, error: create.stderr.trim().replace(/^Error: /, '') };
  try {
    const start = await incus(['start', name, ...p], true);
    if (start.exitCode !== 0) return { canStart: false, error: start.stderr.trim().replace(/^Error: /, '') };
    return { canStart: true };
  } finally {
    await incus(['delete', '--force', name, ...p], true);
  }
}

/** A dir pool applies volume sizes only where its filesystem has project quotas; otherwise Incus records them. */
export async function probeQuota(): Promise<string | undefined> {
  const r = await sh('findmnt', ['-no', 'FSTYPE,OPTIONS', '--target', `/var/lib/incus/storage-pools/${d.pool}`], {
    allowFail: true,
  });
  const [fstype, options = ''] = r.stdout.trim().split(/\s+/);
  if (/prjquota/.test(options) || fstype === 'xfs') return undefined;
  return `the lab's dir pool sits on ${fstype ?? 'a filesystem'} without project quotas: Incus records volume sizes there but does not apply them ("The backing filesystem doesn't support quotas, skipping set quota")`;
}

/** Tries a VLAN-tagged NIC on a container: Incus's own error is the evidence when the host cannot. */
export async function probeVlan(): Promise<string | undefined> {
  const name = 'vmc-lab-vlanprobe';
  const p = ['--project', d.project];
  await incus(['delete', '--force', name, ...p], true);
  try {
    await incus(['init', d.containerImage, name, ...p, '-c', 'user.vmconform.lab=probe']);
    const nic = ['nictype=bridged', `parent=${d.externalBridge}`, 'vlan=10', 'name=eth0'];
    await incus(['config', 'device', 'add', name, 'eth0', 'nic', ...nic, ...p]);
    const r = await incus(['start', name, ...p], true);
    if (r.exitCode === 0) return undefined;
    const err = /^Error: (.*)$/m.exec(r.stderr)?.[1] ?? r.stderr.trim();
    const kernel = await sh(
      'ip',
      ['link', 'add', 'link', d.externalBridge, 'name', 'vmci-vlan', 'type', 'vlan', 'id', '10'],
      {
        allowFail: true,
      },
    );
    if (kernel.exitCode === 0) await sh('ip', ['link', 'del', 'vmci-vlan'], { allowFail: true });
    const why = kernel.exitCode === 0 ? '' : ` (this kernel has no 802.1q: ${kernel.stderr.trim()})`;
    return `Incus could not start a NIC with vlan=10 on ${d.externalBridge}: ${err}${why}`;
  } finally {
    await incus(['delete', '--force', name, ...p], true);
  }
}
