/**
 * Proxmox images: template VMs, named by the template's name. Import and deletion are not implemented
 * (composeDriver answers Unsupported by the adapter): an import would upload to an import storage and make
 * a template VM of it.
 */
import type { Image, ImageOps } from '../contract/index.js';
import type { ProxmoxBase } from './core.js';
import { parseDisks } from './mapping.js';

export class ProxmoxImages implements Pick<ImageOps, 'images'> {
  constructor(private readonly b: ProxmoxBase) {}

  async images(): Promise<Image[]> {
    const out: Image[] = [];
    for (const r of await this.b.vmList()) {
      if (!r.template) continue;
      const boot = parseDisks(await this.b.config(r.vmid)).find((d) => d.role === 'boot');
      out.push({
        id: r.name ?? String(r.vmid),
        name: r.name ?? String(r.vmid),
        format: boot?.format ?? 'raw',
        sizeBytes: boot?.sizeBytes ?? 0,
      });
    }
    return out;
  }
}
