/** The Incus lab's images: this checkout's guest built offline, imported as a container and a VM image. */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { buildGuest, guestArtefacts } from '../../../host/guest/artefacts.js';
import { ensurePackages, type Say } from '../../../host/host.js';
import { incusLabDefaults as d, type IncusLabState, incus } from './state.js';

const imageDir = join(d.root, 'images');
const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

async function imageFingerprint(alias: string): Promise<string | undefined> {
  const r = await incus(['image', 'info', alias, '--project', d.project], true);
  return r.exitCode === 0 ? /Fingerprint:\s*([0-9a-f]+)/.exec(r.stdout)?.[1] : undefined;
}

/** The kernel, initramfs and base disk the VM image is made from: this checkout's guest, built if missing. */
export async function ensureGuest(say: Say): Promise<IncusLabState['guest']> {
  await ensurePackages(['busybox-static', 'cpio', 'genisoimage'], say);
  await buildGuest();
  const g = await guestArtefacts();
  return { kernel: g.kernel, initrd: g.initrd, baseImage: g.base };
}

export async function ensureImages(say: Say, guest: IncusLabState['guest']): Promise<IncusLabState['images']> {
  const build = await execa(
    'bash',
    [join(repoRoot, 'adapters/incus/lab/build-images.sh'), imageDir, dirname(guest.baseImage)],
    {
      reject: false,
      all: true,
      stdin: 'ignore',
    },
  );
  if (build.exitCode !== 0) throw new Error(`incus image build failed:\n${build.all}`);
  let container = await imageFingerprint(d.containerImage);
  // A unified image's fingerprint is its tarball's sha256: a rebuilt guest (container-init changed)
  // replaces the alias, so a warm lab never runs an old guest. Instances made from the old one keep it.
  const tarball = createHash('sha256')
    .update(await readFile(join(imageDir, 'container.tar.gz')))
    .digest('hex');
  if (container && container !== tarball) {
    await incus(['image', 'delete', d.containerImage, '--project', d.project]);
    say(`container guest rebuilt: replacing image ${d.containerImage} (${container.slice(0, 12)})`);
    container = undefined;
  }
  if (!container) {
    await incus([
      'image',
      'import',
      join(imageDir, 'container.tar.gz'),
      '--alias',
      d.containerImage,
      '--project',
      d.project,
    ]);
    container = await imageFingerprint(d.containerImage);
    say(`imported container image ${d.containerImage} (${container})`);
  }
  let vm = await imageFingerprint(d.vmImage);
  if (!vm) {
    const r = await incus(
      [
        'image',
        'import',
        join(imageDir, 'vm-meta.tar.gz'),
        join(imageDir, 'vm-disk.qcow2'),
        '--alias',
        d.vmImage,
        '--project',
        d.project,
      ],
      true,
    );
    vm = r.exitCode === 0 ? await imageFingerprint(d.vmImage) : undefined;
    say(vm ? `imported VM image ${d.vmImage} (${vm})` : `VM image import failed: ${r.stderr.trim()}`);
  }
  return { container: container ?? '', ...(vm ? { vm } : {}) };
}
