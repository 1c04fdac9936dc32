import { describe, expect, it } from 'vitest';
import { Unsupported } from '../../evidence/errors.js';
import { Transcript } from '../../evidence/transcript.js';
import { type Driver, driverMethods } from '../contract/index.js';
import { type LibvirtConfig, libvirtDriver } from './adapter.js';

const cfg: LibvirtConfig = {
  uri: 'qemu:///system',
  pool: 'vmconform',
  imagePool: 'vmconform-images',
  accel: 'tcg',
  kernel: '/k',
  initrd: '/i',
  cmdline: 'console=ttyS0',
  consoleDir: '/c',
  bootDiskBytes: 1024,
  prereqMissing: {},
};
const driver = (): Driver => libvirtDriver(cfg, { runId: '20260101t0000-abcd', transcript: new Transcript() });

describe('libvirt driver assembled by concern', () => {
  it('takes every contract method from a concern part, none from the Unsupported(adapter) defaults', () => {
    const d = driver() as unknown as Record<string, { name: string }>;
    // composeDriver binds a part's method (name 'bound <m>'); its defaults are anonymous.
    const missing = Object.values(driverMethods)
      .flat()
      .filter((m) => d[m]?.name !== `bound ${m}`);
    expect(missing).toEqual([]);
    expect(driver().platform).toBe('libvirt');
  });

  it("answers task and console log with the platform's Unsupported, saying why", async () => {
    const d = driver();
    for (const p of [d.task({ kind: 'none', id: null }), d.consoleLog({ id: 'x', name: 'x' })]) {
      const e = await p.catch((err: unknown) => err);
      expect(e).toBeInstanceOf(Unsupported);
      expect((e as Unsupported).by).toBe('platform');
      expect((e as Error).message).toMatch(/^libvirt/);
    }
  });
});
