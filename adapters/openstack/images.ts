/** Glance images: lookup by id or name, the owned image list, checked upload (then protected), delete. */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { waitFor } from '../../host/wait.js';
import {
  ConfigInvalid,
  Conflict,
  type Image,
  type ImageOps,
  type ImageSource,
  NotFound,
  ownershipMarker,
  PlatformError,
  type Receipt,
} from '../contract/index.js';
import type { OpenStackBase } from './core.js';
import { directBootProps, type GlanceImage, runTag, toImage } from './mapping.js';

/** A Glance image by id, else by unique name. */
export async function glanceImage(os: OpenStackBase, ref: string): Promise<GlanceImage> {
  const byId = await os
    .call<GlanceImage>('image', 'GET', `/v2/images/${encodeURIComponent(ref)}`)
    .catch((e) => (e instanceof NotFound ? undefined : Promise.reject(e)));
  if (byId) return byId.body;
  const named = await os.list<GlanceImage>('image', '/v2/images', 'images', { name: ref });
  if (named.length === 1 && named[0]) return named[0];
  if (named.length > 1) throw new Conflict(`openstack: ${named.length} Glance images are named '${ref}'`);
  throw new NotFound(`openstack: no Glance image with id or name '${ref}'`);
}

const jsonPatch = 'application/openstack-images-v2.1-json-patch';

export class OpenStackImages implements ImageOps {
  constructor(private readonly os: OpenStackBase) {}

  async rawImages(): Promise<GlanceImage[]> {
    return this.os.list<GlanceImage>('image', '/v2/images', 'images');
  }

  async images(): Promise<Image[]> {
    return (await this.rawImages()).map(toImage);
  }

  /** Glance upload; the platform's own hash must match the file's, then the image is protected (immutable). */
  async importImage(src: ImageSource): Promise<Receipt<Image>> {
    const { os } = this;
    const data = await readFile(src.path);
    const sha256 = createHash('sha256').update(data).digest('hex');
    if (sha256 !== src.sha256.toLowerCase())
      throw new ConfigInvalid(`image source ${src.path}: sha256 is ${sha256}, expected ${src.sha256}`);
    const name = `${src.name}-${src.version}`;
    const existing = await os.list<GlanceImage>('image', '/v2/images', 'images', { name });
    if (existing.length)
      throw new Conflict(`openstack: a Glance image named '${name}' already exists (${existing[0]?.id})`);
    // A bare disk boots with the configured base image's kernel and ramdisk, where that image has them.
    const boot = directBootProps(await glanceImage(os, os.cfg.image));
    const t0 = performance.now();
    const tag = os.tag();
    const created = await os.call<GlanceImage>('image', 'POST', '/v2/images', {
      json: {
        name,
        ...boot,
        disk_format: src.format,
        container_format: 'bare',
        visibility: 'private',
        tags: [ownershipMarker, runTag(os.ctx.runId)],
        vmconform_marker: tag.marker,
        vmconform_run: tag.runId,
        vmconform_created: tag.createdAt,
        vmconform_version: src.version,
      },
    });
    const id = created.body.id;
    return os.withRollback(async (rollback) => {
      rollback.add(`image ${id}`, () => os.call('image', 'DELETE', `/v2/images/${id}`));
      await os.call('image', 'PUT', `/v2/images/${id}/file`, { raw: data, contentType: 'application/octet-stream' });
      const acceptedMs = performance.now() - t0;
      const img = (
        await waitFor(`image ${name} to be active`, os.policy('task'), async () => {
          const i = (await os.call<GlanceImage>('image', 'GET', `/v2/images/${id}`)).body;
          return i.status === 'active' ? i : undefined;
        })
      ).value;
      const algo = img.os_hash_algo ?? 'sha512';
      const local = createHash(algo).update(data).digest('hex');
      if (img.os_hash_value !== local)
        throw new PlatformError(
          `openstack: Glance's ${algo} of ${name} (${img.os_hash_value}) differs from the uploaded file's (${local})`,
          'checksum',
          String(img.os_hash_value),
        );
      const locked = await os.call<GlanceImage>('image', 'PATCH', `/v2/images/${id}`, {
        raw: JSON.stringify([{ op: 'replace', path: '/protected', value: true }]),
        contentType: jsonPatch,
        idempotent: true,
      });
      return {
        result: toImage(locked.body),
        handle: { kind: 'request', id: created.requestId ?? null, note: 'Glance request id' },
        acceptedMs,
        doneMs: performance.now() - t0,
      };
    });
  }

  async deleteImage(id: string): Promise<Receipt> {
    const { os } = this;
    const img = (await os.call<GlanceImage>('image', 'GET', `/v2/images/${id}`)).body;
    os.ensureOwned(toImage(img).owner, `image '${img.name}' (${id})`);
    const t0 = performance.now();
    if (img.protected)
      await os.call('image', 'PATCH', `/v2/images/${id}`, {
        raw: JSON.stringify([{ op: 'replace', path: '/protected', value: false }]),
        contentType: jsonPatch,
        idempotent: true,
      });
    const res = await os.call('image', 'DELETE', `/v2/images/${id}`, { idempotent: true });
    const ms = performance.now() - t0;
    return {
      result: undefined,
      handle: { kind: 'request', id: res.requestId ?? null, note: 'Glance request id' },
      acceptedMs: ms,
      doneMs: ms,
    };
  }
}
