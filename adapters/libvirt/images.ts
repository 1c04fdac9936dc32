/** libvirt images: raw volumes in the image pool, one immutable volume per published version. */
import { join } from 'node:path';
import {
  ConfigInvalid,
  Conflict,
  type Image,
  type ImageOps,
  type ImageSource,
  NotFound,
  NotOwned,
  PlatformError,
  type Receipt,
} from '../contract/index.js';
import type { LibvirtBase } from './core.js';
import { sha256File } from './disk-files.js';
import type { LibvirtDisks } from './disks.js';
import { imageVolumeName, ownedVolumeRun, parseImageVolumeName, parseVolumeXml } from './mapping.js';

export class LibvirtImages implements ImageOps {
  constructor(
    private readonly b: LibvirtBase,
    private readonly disks: LibvirtDisks,
  ) {}

  async images(): Promise<Image[]> {
    const { b } = this;
    await b.virsh.run(['pool-refresh', b.cfg.imagePool]);
    const names = await b.volumeNames(b.cfg.imagePool);
    const out: Image[] = [];
    for (const vol of names) {
      const xml = await b.volumeXml(b.cfg.imagePool, vol);
      if (!xml) continue;
      const v = parseVolumeXml(xml);
      const { name, version } = parseImageVolumeName(vol);
      // libvirt stores no image checksum: none is reported rather than one computed by the harness.
      out.push({
        id: `${b.cfg.imagePool}/${vol}`,
        name,
        ...(version ? { version } : {}),
        format: v.format,
        sizeBytes: v.capacity,
      });
    }
    return out;
  }

  async importImage(src: ImageSource): Promise<Receipt<Image>> {
    const { b } = this;
    const imagePool = b.cfg.imagePool;
    b.requireRunPrefix('image name', src.name);
    const vol = imageVolumeName(src.name, src.version);
    if (!/^[0-9a-f]{64}$/.test(src.sha256)) throw new ConfigInvalid(`sha256: expected 64 hex digits`);
    const local = await sha256File(src.path);
    if (local !== src.sha256)
      throw new ConfigInvalid(`sha256: ${src.path} hashes to ${local}, not the declared ${src.sha256}`);
    // Published versions are never written again: that is the adapter's rule, libvirt would overwrite.
    if (await b.volumeExists(imagePool, vol))
      throw new Conflict(
        `image ${src.name} version ${src.version} is already published as ${imagePool}/${vol}; versions are immutable (publish a new version)`,
      );
    return b.timed(async () => {
      await b.uploadAsRaw(imagePool, vol, src);
      // What the platform holds now, read back through the API, must be what was declared. A qcow2
      // source was converted to raw on the way, so only a raw source's sha256 can be compared.
      if (src.format === 'raw') {
        const back = await b.withTempDir(async (dir) => {
          const f = join(dir, 'check.raw');
          await b.virsh.run(['vol-download', vol, f, '--pool', imagePool]);
          return sha256File(f);
        });
        if (back !== src.sha256) {
          await b.virsh.run(['vol-delete', vol, '--pool', imagePool]).catch(() => undefined);
          throw new PlatformError(`uploaded image reads back as ${back}, not ${src.sha256}`, 'checksum-mismatch', back);
        }
      }
      const image = (await this.images()).find((i) => i.id === `${imagePool}/${vol}`);
      if (!image) throw new NotFound(`image ${vol} not listed after upload`);
      return image;
    });
  }

  async deleteImage(id: string): Promise<Receipt> {
    const { b } = this;
    const [pool, vol] = id.split('/', 2) as [string, string];
    if (pool !== b.cfg.imagePool || !ownedVolumeRun(vol ?? ''))
      throw new NotOwned(
        `refusing to delete image '${id}': not in pool '${b.cfg.imagePool}' with a vmc-<run id>- name`,
      );
    const path = (await b.virsh.run(['vol-path', vol, '--pool', pool])).trim();
    // A copy-on-write child would lose its base: refuse while any volume is backed by it.
    const children = (await this.disks.volumes()).filter((v) => v.backing === path).map((v) => v.id);
    if (children.length > 0) throw new Conflict(`image '${id}' is the base of ${children.join(', ')}`);
    return b.timed(async () => void (await b.virsh.run(['vol-delete', vol, '--pool', pool])));
  }
}
