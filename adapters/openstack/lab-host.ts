/** Host-side steps of the real OpenStack lab: packages, the real-lab scripts, provisioning, probes. */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ensurePackages, type Say, sh } from '../../host/host.js';

const policyRcD = '/usr/sbin/policy-rc.d';

/**
 * Installs what is missing without letting a package start its service: on a machine without
 * systemd the postinst scripts would otherwise start MariaDB, RabbitMQ, memcached and every OpenStack
 * service on their default ports, processes the lab did not start. A policy-rc.d answering 101 ("action
 * forbidden") is the documented switch; one the machine already has is left as it is.
 */
export async function installLabPackages(pkgs: string[], say: Say): Promise<void> {
  const had = await stat(policyRcD).then(
    () => true,
    () => false,
  );
  if (!had)
    await writeFile(policyRcD, '#!/bin/sh\n# vmconform lab install: no service starts from a postinst\nexit 101\n', {
      mode: 0o755,
    });
  try {
    await ensurePackages(pkgs, say);
  } finally {
    if (!had) await rm(policyRcD, { force: true });
  }
}

/**
 * Runs one of the lab's scripts with its output appended to the lab's log and echoed line by line.
 * Waits for the script's exit, not for its output to close: the daemons it starts outlive it.
 */
export async function runScript(
  dir: string,
  script: string,
  args: string[],
  env: Record<string, string>,
  say: Say,
): Promise<void> {
  const log = '/var/lib/vmconform/openstack-real.log';
  const from = await stat(log).then(
    (s) => s.size,
    () => 0,
  );
  const out = openSync(log, 'a');
  const code = await new Promise<number | null>((resolve, reject) => {
    // Through python only to close every inherited descriptor above stderr first: the daemons the
    // script starts would otherwise keep them open for ever, a caller's `flock` lock file among them.
    const closeFds = 'import os,sys; os.closerange(3, 65536); os.execvp("sh", ["sh"] + sys.argv[1:])';
    const child = spawn('/usr/bin/python3', ['-c', closeFds, join(dir, script), ...args], {
      stdio: ['ignore', out, out],
      env: { ...process.env, LC_ALL: 'C', ...env },
    });
    child.once('error', reject);
    child.once('exit', (c) => resolve(c));
  }).finally(() => closeSync(out));
  const text = (await readFile(log, 'utf8')).slice(from);
  for (const line of text.split('\n')) if (line.trim()) say(`  ${script}: ${line}`);
  if (code !== 0) throw new Error(`${script} ${args.join(' ')} failed (exit ${code}); see ${log}`);
}

/** A digest of the scripts that configure and start the services, and the virt type they are given. */
export async function scriptsDigest(dir: string, virtType: string): Promise<string> {
  const h = createHash('sha256').update(virtType);
  for (const f of ['common.sh', 'infra.sh', 'ceph.sh', 'configs.sh', 'services.sh', 'catalog.py'])
    h.update(f)
      .update('\0')
      .update(await readFile(join(dir, f)));
  return h.digest('hex').slice(0, 16);
}

/**
 * The guest in Glance and the lab's three flat networks (network on physnet1, network2 on physnet2,
 * the external network on physnet3, mapped onto the external bridge), made once.
 */
export async function provision(
  dir: string,
  lab: {
    authUrl: string;
    passwordFile: string;
    image: string;
    network: string;
    network2: string;
    externalNetwork: string;
  },
  guest: string,
  say: Say,
): Promise<Record<string, string | boolean>> {
  const t0 = performance.now();
  const r = await sh('/usr/bin/python3', [
    join(dir, 'provision.py'),
    lab.authUrl,
    lab.passwordFile,
    guest,
    lab.image,
    `${lab.network}:physnet1:10.231.0.0/24:dhcp`,
    `${lab.network2}:physnet2:10.232.0.0/24:nodhcp`,
    `${lab.externalNetwork}:physnet3:10.233.0.0/24:nodhcp`,
  ]);
  const out = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as Record<string, string | boolean>;
  say(
    `provisioned ${out.uploaded ? 'the guest images (uploaded)' : 'the guest image (already there)'} and networks ${lab.network}, ${lab.network2}, ${lab.externalNetwork} in ${Math.round(performance.now() - t0)} ms`,
  );
  return out;
}

/** Why Neutron VLAN networks cannot carry guests here, or undefined when this kernel makes 802.1q links. */
export async function vlanMissing(): Promise<string | undefined> {
  const r = await sh('ip', ['link', 'add', 'link', 'osr-phys0', 'name', 'osr-vlanprobe', 'type', 'vlan', 'id', '10'], {
    allowFail: true,
  });
  if (r.exitCode === 0) {
    await sh('ip', ['link', 'del', 'osr-vlanprobe'], { allowFail: true });
    return undefined;
  }
  return `this kernel cannot create 802.1q VLAN interfaces (ip link add type vlan: ${r.stderr.trim()}); the lab's Neutron has flat networks only`;
}
