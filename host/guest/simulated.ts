/**
 * The simulated guest: prints on its "serial console" the same VMC lines our real guest
 * (host/guest/init) prints, derived from what the simulated Nova attached: disks by the serial Nova's
 * libvirt driver gives them (the Cinder volume id, cut to 20 characters), NICs by their Neutron MAC in
 * port order. User data arrives by config drive (OpenStack format), so the instance id is the server
 * uuid. Declared user data really runs (as nobody, in its own mount namespace, with a `vmc-disk` helper
 * that resolves a serial to the volume's backing file), so its exit code and effects are not invented.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmod, mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface GuestDisk {
  device: string;
  serial: string;
  bytes: number;
  file: string;
}

export interface GuestNic {
  mac: string;
}

/** Nova's libvirt driver sets the virtio serial to the volume id; virtio-blk keeps 20 bytes of it. */
export const novaDiskSerial = (volumeId: string) => volumeId.slice(0, 20);

/** The first line of the first 64 bytes, only [A-Za-z0-9._:=-] kept: the same rule as the real guest. */
export async function diskHeader(file: string): Promise<string> {
  const fh = await open(file, 'r').catch(() => undefined);
  if (!fh) return '';
  try {
    const buf = Buffer.alloc(64);
    const { bytesRead } = await fh.read(buf, 0, 64, 0);
    const first = buf.subarray(0, bytesRead).toString('latin1').split('\n')[0] ?? '';
    return first.replace(/[^A-Za-z0-9._:=-]/g, '');
  } finally {
    await fh.close();
  }
}

export async function stateLine(seq: number, disks: GuestDisk[], nics: GuestNic[]): Promise<string> {
  const d: string[] = [];
  for (const x of [...disks].sort((a, b) => a.device.localeCompare(b.device)))
    d.push(`${x.device}:${x.serial}:${x.bytes}:${await diskHeader(x.file)}`);
  const n = nics.map((x, i) => `eth${i}:${x.mac.toLowerCase()}`);
  return `VMC STATE seq=${seq} disks=${d.join(',')} nics=${n.join(',')}`;
}

export const readyLine = (bootId = randomUUID()) => `VMC READY boot_id=${bootId} kernel=6.1.0-sim-vmconform`;

/** Runs a `#!` user-data script the way the guest would: returns its exit code (-1 when it is not a script). */
/**
 * `bootId` is the id this boot reports on READY: the script finds it in /run/vmc/boot_id (the host
 * kernel's boot_id would name no guest boot). `vmc-disk -l` lists the serials the guest sees.
 */
export async function runUserData(script: string, disks: GuestDisk[], bootId: string): Promise<number> {
  if (!script.startsWith('#!')) return -1;
  const dir = await mkdtemp(join(tmpdir(), 'vmc-sim-guest-'));
  try {
    const bin = join(dir, 'bin');
    await mkdir(bin);
    const map = disks.map((d) => `${d.serial} ${d.file}`).join('\n');
    await writeFile(join(dir, 'disks'), `${map}\n`);
    await writeFile(
      join(bin, 'vmc-disk'),
      `#!/bin/sh\n[ "$1" = -l ] && { cut -d' ' -f1 < ${join(dir, 'disks')}; exit 0; }\nwhile read -r s f; do [ "$s" = "$1" ] && { echo "$f"; exit 0; }; done < ${join(dir, 'disks')}\necho "vmc-disk: no virtio disk with serial '$1'" >&2\nexit 1\n`,
    );
    await writeFile(join(dir, 'user-data'), script);
    for (const p of [dir, bin, join(bin, 'vmc-disk'), join(dir, 'user-data'), join(dir, 'disks')])
      await chmod(p, 0o755);
    for (const d of disks) await chmod(d.file, 0o666).catch(() => undefined);
    // Its own mount namespace with a private /run (the guest's /run/vmc), run as nobody, bounded in time.
    const setup = `mount -t tmpfs tmpfs /run && mkdir -p /run/vmc && echo ${bootId.replace(/[^0-9a-f-]/g, '')} > /run/vmc/boot_id && chmod 777 /run/vmc && cd / && exec setpriv --reuid=65534 --regid=65534 --clear-groups env PATH=${bin}:/usr/bin:/bin sh ${join(dir, 'user-data')}`;
    return await new Promise<number>((resolve) => {
      const p = spawn('unshare', ['--mount', '--fork', 'sh', '-c', setup], { stdio: 'ignore' });
      const timer = setTimeout(() => p.kill('SIGKILL'), 15_000);
      p.on('exit', (code) => {
        clearTimeout(timer);
        resolve(code ?? 137);
      });
      p.on('error', () => {
        clearTimeout(timer);
        resolve(127);
      });
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
