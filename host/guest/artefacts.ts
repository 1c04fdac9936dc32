/**
 * The vmconform guest (a Debian cloud kernel and a busybox initramfs running `init`), built offline once
 * per guest source: artefacts live in a folder named for the hash of `init` and `build-guest.sh`, so
 * checkouts with different guests on one machine each boot their own instead of rebuilding over each other.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

const here = fileURLToPath(new URL('.', import.meta.url));
export const guestRoot = '/var/lib/vmconform/guest';

export interface GuestArtefacts {
  kernel: string;
  initrd: string;
  /** A raw disk whose first line is `VMCIMG:base-v1`, the base image every platform boots from. */
  base: string;
}

export async function guestDir(): Promise<string> {
  const h = createHash('sha256');
  for (const f of ['init', 'build-guest.sh']) h.update(await readFile(join(here, f)));
  return join(guestRoot, h.digest('hex').slice(0, 12));
}

export async function guestArtefacts(): Promise<GuestArtefacts> {
  const dir = await guestDir();
  return { kernel: join(dir, 'vmlinuz'), initrd: join(dir, 'initrd.img'), base: join(dir, 'base.img') };
}

/** Builds this checkout's guest unless it is there (the script is idempotent); returns its last line of output. */
export async function buildGuest(): Promise<string> {
  const build = await execa('bash', [join(here, 'build-guest.sh'), await guestDir()], {
    stdin: 'ignore',
    reject: false,
    all: true,
  });
  if (build.exitCode !== 0) throw new Error(`guest image build failed:\n${build.all}`);
  return build.stdout.trim().split('\n').filter(Boolean).pop() ?? 'guest artefacts ready';
}
