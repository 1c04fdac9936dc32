import { describe, expect, it } from 'vitest';
import { guestMemory } from './memory.js';
import { parseConsole } from './report.js';

// What the lab's guest printed under SeaBIOS with 320 MiB declared (q35, TCG).
const seabios320 =
  'VMC READY boot_id=0b7f0f6e-0000-4000-8000-000000000001 kernel=6.1.0-57-cloud-amd64 fw=bios cpus=2 mem_kib=286736 ' +
  'memmap=0x0-0x9fbff:ram,0x100000-0x13fdffff:ram,0x13fe0000-0x13ffffff:res,0x9fc00-0x9ffff:res,0xf0000-0xfffff:res,' +
  '0xfd00000000-0xffffffffff:res,0xfffc0000-0xffffffff:res\n';

describe('guest memory from its firmware map', () => {
  it('the RAM span is the declared memory; firmware and kernel shares come from the guest', () => {
    const [ev] = parseConsole(seabios320).events;
    if (ev?.kind !== 'ready' || !ev.memmap) throw new Error('no memmap parsed');
    const m = guestMemory(ev.memmap, ev.memKiB);
    expect(m).toEqual({ spanKiB: 320 * 1024, ramKiB: 327167, firmwareKiB: 513, kernelKiB: 327167 - 286736 });
  });

  it('a guest given half the memory shows half, whatever MemTotal says', () => {
    const m = guestMemory(
      [
        { start: 0, end: 0x9fbff, type: 'ram' },
        { start: 0x100000, end: 0x9fdffff, type: 'ram' },
        { start: 0x9fe0000, end: 0x9ffffff, type: 'res' },
        { start: 0xb0000000, end: 0xbfffffff, type: 'res' },
      ],
      undefined,
    );
    expect(m?.spanKiB).toBe(160 * 1024);
  });

  it('RAM above 4 GiB counts in full; device windows below 4 GiB do not', () => {
    const m = guestMemory(
      [
        { start: 0, end: 0x7fffffff, type: 'ram' },
        { start: 0xb0000000, end: 0xbfffffff, type: 'res' },
        { start: 0x100000000, end: 0x17fffffff, type: 'ram' },
      ],
      undefined,
    );
    expect(m?.spanKiB).toBe(4 * 1024 * 1024);
  });

  it('no RAM in the map: nothing to say', () => {
    expect(guestMemory([], 1)).toBeUndefined();
  });
});
