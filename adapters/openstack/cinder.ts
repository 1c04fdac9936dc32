/** Cinder volume primitives the concerns share: create (owned, waited), delete (waited) and the raw list. */
import { waitFor } from '../../host/wait.js';
import { Conflict, NotFound } from '../contract/index.js';
import type { OpenStackBase } from './core.js';
import { type CinderVolume, gibCeil, ownershipMetadata } from './mapping.js';

export class Cinder {
  constructor(private readonly os: OpenStackBase) {}

  async list(): Promise<CinderVolume[]> {
    return this.os.list<CinderVolume>('volumev3', '/volumes/detail', 'volumes');
  }

  async create(name: string, sizeBytes: number, meta: Record<string, string> = {}): Promise<CinderVolume> {
    // Non-idempotent: never repeated. A name already in use is a conflict, not a reason to create a twin.
    const existing = (await this.os.list<CinderVolume>('volumev3', '/volumes/detail', 'volumes', { name })).filter(
      (v) => v.name === name,
    );
    if (existing.length)
      throw new Conflict(`openstack: a Cinder volume named '${name}' already exists (${existing[0]?.id})`);
    const r = await this.os.call<{ volume: CinderVolume }>('volumev3', 'POST', '/volumes', {
      json: { volume: { name, size: gibCeil(sizeBytes), metadata: { ...ownershipMetadata(this.os.tag()), ...meta } } },
    });
    return this.os.awaitVolume(r.body.volume.id, ['available'], 'device');
  }

  async delete(id: string): Promise<void> {
    await this.os
      .call('volumev3', 'DELETE', `/volumes/${id}`, { idempotent: true })
      .catch((e) => (e instanceof NotFound ? undefined : Promise.reject(e)));
    await waitFor(`volume ${id} to be deleted`, this.os.policy('delete'), async () =>
      (await this.os.cinderVolume(id).then(
        () => false,
        (e) => (e instanceof NotFound ? true : Promise.reject(e)),
      ))
        ? true
        : undefined,
    );
  }
}
