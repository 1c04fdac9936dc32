/**
 * The embedded local labs `vmconform lab up|down|status NAME` manages: every platform's own labs (from
 * its descriptor) and the shared lab services (a NATS server). Each loads lazily.
 */
import type { Lab } from '../adapters/contract/index.js';
import type { LabConfig } from '../adapters/lab-config.js';
import { registry } from '../adapters/platforms.js';

export type { Lab } from '../adapters/contract/index.js';

const labs: Record<string, () => Promise<Lab>> = {
  ...registry.labs,
  nats: async () => {
    const m = await import('./nats.js');
    return { up: m.natsUp, down: m.natsDown, status: m.readNatsLabState };
  },
};

export const labNames = Object.keys(labs);

export const isLab = (name: string): boolean => name in labs;

export async function lab(name: string): Promise<Lab> {
  const load = labs[name];
  if (!load) throw new Error(`no local lab named '${name}' (available: ${labNames.join(', ')})`);
  return load();
}

/**
 * The local labs a run of these platforms needs, in bring-up order: each platform's own lab where
 * there is one, then what its config asks for (further sites), then NATS when the config runs it locally.
 */
export function labsFor(config: LabConfig, platforms: readonly string[]): string[] {
  const out = registry.labsFor(config.platforms, platforms);
  if (config.nats?.local && !out.includes('nats')) out.push('nats');
  return out;
}
