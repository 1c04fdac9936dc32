/** Incus images: listed with Incus's own fingerprint as checksum, imported as unified tarballs, deleted. */
import { readFile } from 'node:fs/promises';
import {
  type Image,
  type ImageOps,
  type ImageSource,
  NotFound,
  ownershipMarker,
  type Receipt,
  Unsupported,
} from '../contract/index.js';
import { enc, type IncusBase, receipt } from './core.js';
import { keys, ownerOf } from './mapping.js';

export class IncusImages implements ImageOps {
  constructor(private readonly b: IncusBase) {}

  async images(): Promise<Image[]> {
    return (await this.b.rawImages()).map((i) => {
      const owner = ownerOf(i.properties ?? {});
      return {
        id: i.fingerprint,
        name: i.aliases?.[0]?.name ?? i.fingerprint,
        ...(i.properties?.release ? { version: i.properties.release } : {}),
        format: i.type === 'virtual-machine' ? 'qcow2' : 'squashfs-or-tarball',
        sizeBytes: i.size,
        // Incus's fingerprint is the sha256 of the image file(s) it stores: its own checksum.
        checksum: { algorithm: 'sha256', value: i.fingerprint },
        ...(owner ? { owner } : {}),
      };
    });
  }

  /**
   * POST /1.0/images with the file as the body: Incus fingerprints it (sha256) itself, so the returned
   * checksum is the platform's. A bare raw/qcow2 disk needs Incus image metadata: only unified tarballs
   * (metadata.yaml + rootfs) import as one file, so a plain disk file is refused by the platform.
   */
  async importImage(src: ImageSource): Promise<Receipt<Image>> {
    const body = await readFile(src.path);
    // A unified image is a (gzip'd) tarball holding metadata.yaml; a bare disk has no Incus metadata.
    const tarball = (body[0] === 0x1f && body[1] === 0x8b) || body.subarray(257, 262).toString() === 'ustar';
    if (!tarball)
      throw new Unsupported(
        `importing a bare ${src.format} disk needs a split Incus image (metadata tarball + disk, multipart POST), not implemented yet`,
        'adapter',
      );
    const owner = { marker: ownershipMarker, runId: this.b.ctx.runId, createdAt: new Date().toISOString() };
    const props = {
      name: src.name,
      release: src.version,
      [keys.marker]: owner.marker,
      [keys.run]: owner.runId,
      [keys.created]: owner.createdAt,
    };
    const res = await this.b.client.raw('POST', '/1.0/images', {
      raw: body,
      headers: {
        'x-incus-public': '0',
        'x-incus-properties': new URLSearchParams(props).toString(),
        'x-incus-aliases': `name=${enc(`${src.name}-${src.version}`)}`,
      },
    });
    const id = (res.body as { operation?: string }).operation?.split('/').pop() as string;
    const t0 = performance.now();
    const op = await this.b.client.wait(id, `import image ${src.name}`);
    const fingerprint = String((op.metadata as { fingerprint?: string } | null)?.fingerprint ?? '');
    const img = (await this.images()).find((i) => i.id === fingerprint);
    if (!img) throw new NotFound(`imported image ${fingerprint} not listed`);
    return {
      result: img,
      handle: { kind: 'operation', id },
      acceptedMs: res.durationMs,
      doneMs: res.durationMs + performance.now() - t0,
    };
  }

  async deleteImage(id: string): Promise<Receipt> {
    const img = (await this.b.rawImages()).find((i) => i.fingerprint === id);
    if (!img) throw new NotFound(`no image ${id}`);
    this.b.ensureOwned(ownerOf(img.properties ?? {}), `image ${id}`);
    return receipt(await this.b.client.async('DELETE', `/1.0/images/${id}`, {}, `delete image ${id}`), undefined);
  }
}
