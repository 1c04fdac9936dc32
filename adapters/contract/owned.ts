/** Removing what the harness owns, through the contract only: the sweeper and every run's cleanup use this. */
import type { Driver } from './driver.js';
import { type OwnedKind, type OwnedObject, ownedKinds } from './platform.js';

const removers: Record<OwnedKind, (d: Driver, o: OwnedObject) => Promise<unknown>> = {
  vm: (d, o) => d.delete({ id: o.id, name: o.name }),
  backup: (d, o) => d.deleteBackup(o.id),
  volume: (d, o) => d.deleteVolume(o.id),
  image: (d, o) => d.deleteImage(o.id),
};

/**
 * Removes owned objects in dependency order (VMs first: their delete releases their own disks; then
 * backups, volumes, images), skipping what an earlier removal already took with it.
 */
export async function removeOwned(
  driver: Driver,
  objects: OwnedObject[],
  say: (m: string) => void,
): Promise<OwnedObject[]> {
  const failed: OwnedObject[] = [];
  for (const kind of ownedKinds) {
    const mine = objects.filter((x) => x.kind === kind);
    if (mine.length === 0) continue;
    const present = kind === 'vm' ? undefined : new Set((await driver.owned()).map((o) => o.id));
    for (const o of mine) {
      if (present && !present.has(o.id)) continue;
      try {
        await removers[kind](driver, o);
        say(`removed ${o.kind} ${o.name} (run ${o.runId})`);
      } catch (e) {
        if ((e as { code?: string }).code === 'not-found') continue;
        failed.push(o);
        say(`could not remove ${o.kind} ${o.name}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  }
  return failed;
}
