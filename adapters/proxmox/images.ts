/** Proxmox images: template VMs, named by the template's name. */
import { type Image, type ImageOps, type ImageSource, type Receipt, Unsupported } from '../contract/index.js';
import type { ProxmoxBase } from './core.js';
import { parseDisks } from './mapping.js';

export class ProxmoxImages implements ImageOps {
  constructor(private readonly b: ProxmoxBase) {}

  async images(): Promise<Image[]> {
    const out: Image[] = [];
    for (const r of await this.b.resources('vm')) {
      if (r.type !== 'qemu' || !r.template || r.vmid === undefined) continue;
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

  async importImage(_src: ImageSource): Promise<Receipt<Image>> {
    throw new Unsupported(
      'image import (upload to an import storage, then a template VM) is not implemented for Proxmox yet',
      'adapter',
    );
  }

  async deleteImage(_id: string): Promise<Receipt> {
    throw new Unsupported('image (template) deletion is not implemented for Proxmox yet', 'adapter');
  }
}
