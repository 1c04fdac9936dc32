/**
 * Proxmox VMs: each a linked clone of a template (the image), identified by the SMBIOS UUID written at
 * create, owned through its tags; power changes are tasks followed by UPID.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigInvalid } from '../../evidence/errors.js';
import { waitFor } from '../../host/wait.js';
import {
  Conflict,
  NotFound,
  type Receipt,
  type Resize,
  type StopOptions,
  Unsupported,
  type VmOps,
  type VmRef,
  type VmSpec,
  type VmState,
} from '../contract/index.js';
import type { Params } from './client.js';
import type { ProxmoxBase } from './core.js';
import type { ProxmoxGuest } from './guest.js';
import { buildTags, mapPowerState, parseConfig, parseTags, smbiosUuid } from './mapping.js';

export class ProxmoxVms implements VmOps {
  constructor(
    private readonly b: ProxmoxBase,
    private readonly agent: ProxmoxGuest,
  ) {}

  private async template(image: string): Promise<{ vmid: number; config: Record<string, string> }> {
    for (const r of await this.b.vmList())
      if (r.template && r.name === image) return { vmid: r.vmid, config: await this.b.config(r.vmid) };
    throw new NotFound(
      `proxmox: image '${image}' not found (no template VM named '${image}' on node ${this.b.c.node})`,
    );
  }

  private async writeSnippets(vmid: number, name: string, userData: string): Promise<string> {
    const { snippetsDir, snippetStorage } = this.b.c;
    if (!snippetsDir)
      throw new Unsupported(
        'user data needs a snippets directory (platforms.proxmox.snippetsDir): the Proxmox API cannot upload snippets',
        'adapter',
      );
    await mkdir(snippetsDir, { recursive: true });
    const user = `vmc-${vmid}-user.yaml`;
    const meta = `vmc-${vmid}-meta.yaml`;
    await writeFile(join(snippetsDir, user), userData);
    await writeFile(join(snippetsDir, meta), `instance-id: ${name}\nlocal-hostname: ${name}\n`);
    return `user=${snippetStorage}:snippets/${user},meta=${snippetStorage}:snippets/${meta}`;
  }

  async create(spec: VmSpec): Promise<Receipt<VmRef>> {
    if (!/^[a-zA-Z0-9][a-zA-Z0-9.-]*$/.test(spec.name))
      throw new ConfigInvalid(`spec.name: '${spec.name}' is not a DNS name (Proxmox VM names must be)`);
    const t0 = performance.now();
    const tpl = await this.template(spec.image);
    // Checked by name before anything is sent: a create is never repeated blindly. The node's list, as
    // /cluster/resources names a new VM only after pvestatd's next round.
    const taken = (await this.b.vmList()).find((r) => r.name === spec.name && !r.template);
    if (taken) throw new Conflict(`proxmox: a VM named '${spec.name}' already exists (vmid ${taken.vmid})`);
    const uuid = randomUUID();
    return this.b.withRollback(async (rollback) => {
      let clone: Receipt<string | null> | undefined;
      let vmid = 0;
      // /cluster/nextid only proposes a free VMID: concurrent creates get the same one and all but the first
      // lose. A loser is refused at once ("config file already exists") when the winner's config is already
      // written, or its task fails: after waiting 1 s for the new VMID's config lock ("can't lock file
      // ... got timeout") or on finding the winner's config once it had the lock. Every one of these created
      // nothing (a clone that fails later removes what it made), so a fresh VMID is safe.
      // Each round one creator wins, so the losers wait a random while (spreading them out) and ask again:
      // 8 at once from one harness needed more than the 5 plain retries there were (measured by npm run bench).
      for (let attempt = 1; !clone; attempt++) {
        if (attempt > 1) await new Promise((r) => setTimeout(r, Math.random() * 150 * attempt));
        vmid = await this.b.api.get<number | string>('/cluster/nextid').then(Number);
        try {
          clone = await this.b.mutate(
            'POST',
            `${this.b.nodePath}/qemu/${tpl.vmid}/clone`,
            { newid: vmid, name: spec.name, full: 0, ...(this.b.c.pool ? { pool: this.b.c.pool } : {}) },
            'create',
          );
        } catch (e) {
          if (attempt < 12 && lostVmidRace(e)) continue;
          // The clone may or may not exist (a transport error after sending): look by VMID and name, remove only ours.
          rollback.add(`VM ${vmid}`, () => this.removeHalfMade(vmid, spec.name));
          throw e;
        }
      }
      rollback.add(`VM ${vmid}`, () => this.removeHalfMade(vmid, spec.name));
      const params: Params = {
        cores: spec.vcpus,
        memory: spec.memoryMiB,
        smbios1: `uuid=${uuid}`,
        tags: buildTags(this.b.ctx.runId, spec.placement),
        description: this.b.ownedDescription(spec.metadata),
        agent: 1,
        ...(spec.firmware === 'uefi' ? { bios: 'ovmf' } : {}),
      };
      for (const [i, n] of spec.nics.entries()) params[`net${i}`] = this.b.nicValue(n);
      for (const [i, d] of spec.disks.entries()) params[`virtio${i + 1}`] = this.b.diskValue(d);
      if (spec.userData !== undefined) {
        params.ide2 = `${this.b.c.storage}:cloudinit`;
        params.cicustom = await this.writeSnippets(vmid, spec.name, spec.userData);
      }
      await this.b.mutate('POST', `${this.b.nodePath}/qemu/${vmid}/config`, params, 'create');
      this.b.ids.set(uuid, vmid);
      return { ...clone, result: { id: uuid, name: spec.name }, doneMs: performance.now() - t0 };
    });
  }

  /**
   * Deletes a VM this create made, identified by VMID and name together, so nothing is left half-made (OBS-03).
   * Never fails: what it cannot remove the sweeper finds by its tags.
   */
  private async removeHalfMade(vmid: number, name: string): Promise<void> {
    const found = (await this.b.vmList().catch(() => [])).find((r) => r.vmid === vmid && r.name === name);
    if (!found) return;
    await waitFor(`clone lock on ${vmid} to clear`, this.b.policy('create'), async () => {
      const cfg = await this.b.config(vmid).catch(() => ({}) as Record<string, string>);
      return cfg.lock ? undefined : true;
    }).catch(() => undefined);
    await this.b
      .mutate('DELETE', `${this.b.nodePath}/qemu/${vmid}`, { purge: 1, 'destroy-unreferenced-disks': 1 }, 'delete')
      .catch(() => undefined);
  }

  async start(vm: VmRef): Promise<Receipt> {
    const l = await this.b.mine(vm);
    const r = await this.b.mutate('POST', `${this.b.nodePath}/qemu/${l.vmid}/status/start`, {}, 'start');
    return this.b.receipt(r, undefined);
  }

  async stop(vm: VmRef, opts: StopOptions): Promise<Receipt> {
    const l = await this.b.mine(vm);
    const r = opts.force
      ? await this.b.mutate('POST', `${this.b.nodePath}/qemu/${l.vmid}/status/stop`, {}, 'stop-forced')
      : await this.b.mutate(
          'POST',
          `${this.b.nodePath}/qemu/${l.vmid}/status/shutdown`,
          { timeout: Math.round(this.b.policy('stop-graceful').deadlineMs / 1000), forceStop: 0 },
          'stop-graceful',
          // The agent answers only until the guest powers off: read its log while it shuts down.
          async () =>
            void (await this.agent
              .guest(vm)
              .read()
              .catch(() => undefined)),
        );
    return this.b.receipt(r, undefined);
  }

  /**
   * The reboot task ends once the guest is down; qmeventd then starts it again in a qmstart task of its
   * own (run as root@pam, so a token may not see it): the reboot is done when the VM runs again.
   */
  async reboot(vm: VmRef): Promise<Receipt> {
    const t0 = performance.now();
    const l = await this.b.mine(vm);
    const r = await this.b.mutate('POST', `${this.b.nodePath}/qemu/${l.vmid}/status/reboot`, {}, 'reboot');
    await waitFor(`VM ${l.vmid} running again after its reboot`, this.b.policy('reboot'), async () =>
      (await this.b.power(l.vmid)).status === 'running' ? true : undefined,
    );
    return { ...this.b.receipt(r, undefined), doneMs: performance.now() - t0 };
  }

  async delete(vm: VmRef): Promise<Receipt> {
    const l = await this.b.mine(vm);
    if ((await this.b.power(l.vmid)).status === 'running')
      await this.b.mutate('POST', `${this.b.nodePath}/qemu/${l.vmid}/status/stop`, {}, 'stop-forced');
    const r = await this.b.mutate(
      'DELETE',
      `${this.b.nodePath}/qemu/${l.vmid}`,
      { purge: 1, 'destroy-unreferenced-disks': 1 },
      'delete',
    );
    this.b.ids.delete(vm.id);
    this.b.guestCache.delete(vm.id);
    return this.b.receipt(r, undefined);
  }

  async rename(vm: VmRef, newName: string): Promise<Receipt<VmRef>> {
    const l = await this.b.mine(vm);
    const r = await this.b.mutate('POST', `${this.b.nodePath}/qemu/${l.vmid}/config`, { name: newName }, 'device');
    return this.b.receipt(r, { id: vm.id, name: newName });
  }

  async reconfigure(vm: VmRef, change: Resize): Promise<Receipt> {
    const l = await this.b.mine(vm);
    const r = await this.b.mutate(
      'POST',
      `${this.b.nodePath}/qemu/${l.vmid}/config`,
      { ...(change.vcpus ? { cores: change.vcpus } : {}), ...(change.memoryMiB ? { memory: change.memoryMiB } : {}) },
      'device',
    );
    return this.b.receipt(r, undefined);
  }

  async inspect(vm: VmRef): Promise<VmState> {
    const l = await this.b.locate(vm);
    const p = await this.b.power(l.vmid);
    return {
      ref: { id: vm.id, name: l.config.name ?? '' },
      power: mapPowerState(p.status, p.qmpstatus, p.lock ?? l.config.lock),
      rawState: [p.status, p.qmpstatus, p.lock ?? l.config.lock].filter(Boolean).join('/'),
      config: parseConfig(l.config, this.b.c.externalBridges),
      source: `Proxmox VE qemu/${l.vmid}/config + status/current (JSON)`,
    };
  }

  async list(filter: { owner?: string; metadata?: Record<string, string> }): Promise<VmRef[]> {
    const out: VmRef[] = [];
    for (const r of await this.b.vmList()) {
      if (r.template) continue;
      const tags = parseTags(r.tags);
      if (filter.owner && !(tags.owned && tags.runId === filter.owner)) continue;
      const config = await this.b.config(r.vmid).catch(() => undefined);
      const uuid = smbiosUuid(config?.smbios1);
      if (!config || !uuid) continue;
      this.b.ids.set(uuid, r.vmid);
      if (filter.metadata) {
        const md = parseConfig(config).metadata;
        if (!Object.entries(filter.metadata).every(([k, v]) => md[k] === v)) continue;
      }
      out.push({ id: uuid, name: config.name ?? '' });
    }
    return out;
  }
}

/** A clone that lost the race for its new VMID, at once or as its task's exit: it made nothing. */
function lostVmidRace(e: unknown): boolean {
  return (
    e instanceof Error &&
    (/unable to create VM \d+: config file already exists/.test(e.message) ||
      /can't lock file '\/var\/lock\/qemu-server\/lock-\d+\.conf' - got timeout/.test(e.message))
  );
}
