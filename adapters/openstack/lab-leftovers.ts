/**
 * Before the lab stops, and when it starts after a stop it did not see: every object carrying the
 * ownership tag (any run) removed through the adapter, dependents first.
 */
import { readFile } from 'node:fs/promises';
import { registerSecret } from '../../evidence/redact.js';
import type { Say } from '../../host/host.js';
import { removeOwned } from '../contract/index.js';
import type { OpenStackSession } from './client.js';
import { type CinderVolume, ownerOf } from './mapping.js';

/**
 * Owned volumes a hard stop stranded: still in-use (or mid-transition) while every server they name is
 * gone, which Nova's delete leaves when Cinder could not answer its detach. Nobody may delete them
 * until an admin resets them (os-reset_status with attach_status detached also drops the attachments).
 */
async function releaseStranded(session: OpenStackSession, say: Say): Promise<void> {
  const servers = new Set((await session.list<{ id: string }>('compute', '/servers', 'servers')).map((s) => s.id));
  const transient = new Set(['in-use', 'attaching', 'detaching', 'reserved', 'deleting', 'error_deleting']);
  for (const v of await session.list<CinderVolume>('volumev3', '/volumes/detail', 'volumes')) {
    if (!ownerOf(v.metadata) || !transient.has(v.status)) continue;
    if (v.attachments.some((a) => servers.has(a.server_id))) continue;
    await session.call('volumev3', 'POST', `/volumes/${v.id}/action`, {
      json: { 'os-reset_status': { status: 'available', attach_status: 'detached' } },
    });
    say(`reset leftover volume ${v.name} (${v.status}, its servers gone) to available`);
  }
}

export async function removeOwnedLeftovers(
  lab: { authUrl: string; passwordFile: string; image: string },
  say: Say,
): Promise<void> {
  const { openStackDriver } = await import('./adapter.js');
  const { OpenStackSession, microversionsFor } = await import('./client.js');
  const { Transcript } = await import('../../evidence/transcript.js');
  const password = (await readFile(lab.passwordFile, 'utf8')).trim();
  registerSecret(password);
  const transcript = new Transcript();
  const session = new OpenStackSession({
    authUrl: lab.authUrl,
    auth: {
      method: 'password',
      username: 'admin',
      userDomain: 'Default',
      project: 'admin',
      projectDomain: 'Default',
      password,
    },
    interface: 'public',
    transcript,
    microversions: microversionsFor(),
  });
  const driver = openStackDriver(
    { endpoint: lab.authUrl, image: lab.image, bootDiskBytes: 1024 ** 3, evidence: 'real', prereqMissing: {} },
    session,
    { runId: 'lab-clean-up', transcript },
  );
  try {
    await removeOwned(
      driver,
      (await driver.owned()).filter((o) => o.kind === 'vm'),
      say,
    );
    // Only once no owned server is left: a volume reset while its server lived would leave a guest's disk.
    await releaseStranded(session, say).catch((e: unknown) =>
      say(`could not reset stranded volumes: ${e instanceof Error ? e.message : String(e)}`),
    );
    await removeOwned(
      driver,
      (await driver.owned()).filter((o) => o.kind !== 'vm'),
      say,
    );
  } finally {
    await driver.close();
  }
}
