/**
 * Everything derived from the platform descriptors: the platform names, the `platforms:` section of the
 * lab config, connecting a target, and the local labs. `platforms.ts` builds the one registry from the
 * registration list; a test builds one with a throwaway fifth platform the same way.
 */
import { z } from 'zod';
import {
  ConfigInvalid,
  type ConnectOptions,
  type Lab,
  type PlatformDescriptor,
  type Target,
} from './contract/index.js';

/** Platform names are used in paths, subjects and tags: lowercase letters, digits and dashes. */
export const platformNamePattern = /^[a-z][a-z0-9-]*$/;

// biome-ignore lint/suspicious/noExplicitAny: a descriptor of any config schema
type AnyDescriptor = PlatformDescriptor<string, any>;

/** The `platforms:` shape: each registered name, its own schema, optional. */
export type PlatformsShape<D extends readonly AnyDescriptor[]> = {
  [P in D[number] as P['name']]: z.ZodOptional<P['configSchema']>;
};

export function createRegistry<const D extends readonly AnyDescriptor[]>(descriptors: D) {
  type Name = D[number]['name'];
  const names = descriptors.map((d) => d.name) as Name[];
  for (const [i, n] of names.entries()) {
    if (!platformNamePattern.test(n))
      throw new Error(`platform descriptor ${i}: name '${n}' must match ${platformNamePattern}`);
    if (names.indexOf(n) !== i) throw new Error(`platform '${n}' is registered twice`);
  }
  const shape = Object.fromEntries(descriptors.map((d) => [d.name, d.configSchema.optional()])) as PlatformsShape<D>;
  const platformsSchema = z
    .strictObject(shape)
    .refine((p) => Object.values(p).some((v) => v !== undefined), `at least one platform (${names.join(', ')})`);

  const isPlatform = (name: string): name is Name => (names as string[]).includes(name);

  function descriptor(name: string): AnyDescriptor {
    const d = descriptors.find((x) => x.name === name);
    if (!d) throw new ConfigInvalid(`unknown platform '${name}': expected one of ${names.join(', ')}`);
    return d;
  }

  /** Local labs of every platform, by lab name. */
  const labs: Record<string, () => Promise<Lab>> = {};
  for (const d of descriptors)
    for (const [name, load] of Object.entries(d.labs ?? {})) {
      if (labs[name]) throw new Error(`lab '${name}' is registered by two platforms`);
      labs[name] = load;
    }

  return {
    descriptors,
    names,
    platformsSchema,
    isPlatform,
    descriptor,
    labs,
    /** A configured platform's target; names the missing config section when there is none. */
    async connect(name: string, sections: Record<string, unknown>, opts: ConnectOptions): Promise<Target> {
      const d = descriptor(name);
      const section = sections[name];
      if (section === undefined)
        throw new ConfigInvalid(`platforms.${name}: missing from the lab config (expected a ${name} section)`);
      return d.connect(section, opts);
    },
    /** The local labs these platforms need, in bring-up order: each one's own lab, then what its config asks for. */
    labsFor(sections: Record<string, unknown>, chosen: readonly string[]): string[] {
      const out: string[] = chosen.filter((p) => p in labs);
      for (const p of chosen) {
        const d = descriptor(p);
        const section = sections[p];
        if (section === undefined || !d.labsFor) continue;
        for (const l of d.labsFor(section)) if (l in labs && !out.includes(l)) out.push(l);
      }
      return out;
    },
  };
}

export type Registry = ReturnType<typeof createRegistry>;
