import { chmod, mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { lastState, parseConsole } from './report.js';
import { diskHeader, novaDiskSerial, readyLine, runUserData, stateLine } from './simulated.js';

let dir: string;
let disk: string;
const serial = novaDiskSerial('4e1c7a42-77d5-4b7e-9a59-2f1d0c9e8b11');

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vmc-sim-guest-test-'));
  // The guest runs as nobody: it must reach the volume file, as it reaches the simulator's state folder.
  await chmod(dir, 0o755);
  disk = join(dir, 'vol.img');
  await writeFile(disk, 'VMCIMG:base-v1\n');
  await truncate(disk, 1024 * 1024);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('simulated guest', () => {
  test('prints READY and STATE lines the real guest parser reads back', async () => {
    const text = `${readyLine()}\n${await stateLine(1, [{ device: 'vda', serial, bytes: 1024 ** 3, file: disk }], [{ mac: 'FA:16:3E:00:00:01' }])}\n`;
    const st = lastState(parseConsole(text));
    expect(st?.disks).toEqual([
      { name: 'vda', serial: '4e1c7a42-77d5-4b7e-9', bytes: 1024 ** 3, hdr: 'VMCIMG:base-v1' },
    ]);
    expect(st?.nics).toEqual([{ name: 'eth0', mac: 'fa:16:3e:00:00:01' }]);
  });

  test('user data really runs, as nobody, and writes to a disk found by serial', async () => {
    const rc = await runUserData(
      `#!/bin/sh\n[ "$(id -u)" = 65534 ] || exit 7\nd=$(vmc-disk ${serial}) && printf 'VMCDATA:x\\n' | dd of=$d conv=notrunc 2>/dev/null && echo ok > /run/vmc/proof\n`,
      [{ device: 'vdb', serial, bytes: 1024 * 1024, file: disk }],
      'b00710d0-0000-4000-8000-000000000001',
    );
    expect(rc).toBe(0);
    expect(await diskHeader(disk)).toBe('VMCDATA:x');
    expect((await readFile(disk)).length).toBe(1024 * 1024);
  });

  test('a failing script reports its exit code; a non-script is skipped (-1)', async () => {
    expect(await runUserData('#!/bin/sh\nvmc-disk no-such-serial\n', [], 'b00710d0-0000-4000-8000-000000000001')).toBe(
      1,
    );
    expect(await runUserData('#cloud-config\n', [], 'b00710d0-0000-4000-8000-000000000001')).toBe(-1);
  });

  test('the script reads the boot id it will report and lists the serials it sees', async () => {
    const id = 'b00710d0-0000-4000-8000-000000000002';
    const rc = await runUserData(
      `#!/bin/sh\n[ "$(cat /run/vmc/boot_id)" = ${id} ] || exit 3\n[ "$(vmc-disk -l)" = ${serial} ] || exit 4\n`,
      [{ device: 'vdb', serial, bytes: 1024 * 1024, file: disk }],
      id,
    );
    expect(rc).toBe(0);
  });
});
