/** Before the lab stops: every object carrying the ownership tag (any run) removed through the adapter, dependents first. */
import { readFile } from 'node:fs/promises';
import { registerSecret } from '../../evidence/redact.js';
import type { Say } from '../../host/host.js';
import { NotFound, ownedKinds } from '../contract/index.js';

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
    { runId: 'lab-down', transcript },
  );
  try {
    const objects = await driver.owned();
    for (const kind of ownedKinds)
      for (const o of objects.filter((x) => x.kind === kind)) {
        const remove = {
          vm: () => driver.delete({ id: o.id, name: o.name }),
          backup: () => driver.deleteBackup(o.id),
          volume: () => driver.deleteVolume(o.id),
          image: () => driver.deleteImage(o.id),
        }[kind];
        await remove().then(
          () => say(`removed leftover ${kind} ${o.name} (run ${o.runId})`),
          (e: unknown) =>
            // Volumes a VM owned go with it (delete_on_termination): already gone is done.
            e instanceof NotFound
              ? undefined
              : say(`could not remove leftover ${kind} ${o.name}: ${e instanceof Error ? e.message : String(e)}`),
        );
      }
  } finally {
    await driver.close();
  }
}
