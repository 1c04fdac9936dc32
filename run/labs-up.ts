/** Bringing up the local labs a run needs: a platform's own lab must come up; a shared service lab may fail. */
import type { Say } from '../adapters/contract/index.js';
import type { LabConfig } from '../adapters/lab-config.js';
import { lab, labsFor } from '../lab/labs.js';

export async function labUp(name: string, say: Say): Promise<void> {
  await (await lab(name)).up(say);
}

/**
 * Brings up the labs the chosen platforms need. A shared service lab (a second site, NATS) that fails is
 * reported and its suites say prereq-missing; a platform's own lab that fails throws, or, with
 * `failed`, is recorded there so the caller can go on with the other platforms.
 */
export async function labsUp(
  config: LabConfig,
  chosen: readonly string[],
  say: Say,
  failed?: Map<string, string>,
): Promise<void> {
  for (const name of labsFor(config, chosen)) {
    if (chosen.includes(name)) {
      if (!failed) await labUp(name, say);
      else await labUp(name, say).catch((e: unknown) => failed.set(name, e instanceof Error ? e.message : String(e)));
    } else
      await labUp(name, say).catch((e: unknown) =>
        say(
          `lab ${name} did not come up (${e instanceof Error ? e.message : String(e)}); the multi-site suites will report prereq-missing`,
        ),
      );
  }
}
