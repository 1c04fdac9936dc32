import { describe, expect, it } from 'vitest';
import type { Usage } from '../reports/bench.js';
import {
  classifyLimit,
  machinePct,
  parseDiskstats,
  parsePidStat,
  parseProcStat,
  platformClassifier,
  sampleUsage,
} from './machine.js';

// Recorded on the 2-core reference machine.
const procStat =
  'cpu  835434 1358 232832 992714 2855 0 1876 2498 0 0\ncpu0 406083 639 112753 512799 600 0 555 1210 0 0\n';
const diskstats = [
  '   7       0 loop0 5 0 80 0 0 0 0 0 0 0 0 0 0 0 0 0 0',
  ' 254       0 vda 724657 43636 30817690 1448426 298914 300736 35612712 299593 0 215572 1786842 145028 330 30795408 32231 48498 6590',
  ' 254       1 vda1 724000 43636 30800000 1448426 298900 300736 35600000 299593 0 215572 1786842 0 0 0 0 0 0',
  ' 253       0 zram0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0',
].join('\n');
const st = (median: number) => ({ n: 1, min: median, median, p90: median, p95: median, max: median });
const one = { wallMs: 1000, perVm: st(1000) };
const usage = (u: Partial<Usage>): Usage => ({
  wallS: 10,
  cores: 2,
  cpuBusyPct: 20,
  iowaitPct: 1,
  diskReadMiB: 0,
  diskWriteMiB: 5,
  cpuS: {},
  loadAvg1: 1,
  ...u,
});

describe('/proc parsing', () => {
  it('reads busy, iowait and total ticks from the aggregate cpu line', () => {
    expect(parseProcStat(procStat)).toEqual({
      busy: 835434 + 1358 + 232832 + 1876 + 2498,
      iowait: 2855,
      total: 835434 + 1358 + 232832 + 1876 + 2498 + 992714 + 2855,
    });
    expect(() => parseProcStat('intr 1 2 3')).toThrow(/no aggregate cpu line/);
  });

  it('counts whole disks only, in bytes', () => {
    // vda only: the partition vda1 holds the same bytes, loop and zram are not disks.
    expect(parseDiskstats(diskstats)).toEqual({ readBytes: 30817690 * 512, writeBytes: 35612712 * 512 });
  });

  it('reads a pid stat line whose name holds spaces and parentheses', () => {
    const line =
      '4242 (qemu-system (x86)) S 7165 4242 4242 0 -1 4194560 100 0 0 0 1500 250 30 12 20 0 3 0 1043320 3133440 25000 18446744073709551615';
    expect(parsePidStat(4242, line)).toEqual({
      pid: 4242,
      ppid: 7165,
      comm: 'qemu-system (x86)',
      cpuTicks: 1750,
      childTicks: 42,
      rssBytes: 25000 * 4096,
    });
  });

  it('groups the harness tree, guests, daemons by name and the labs recorded pids', () => {
    const classify = platformClassifier({ 'harness:libvirt': 100 }, [555]);
    const p = (pid: number, ppid: number, comm: string) => ({
      pid,
      ppid,
      comm,
      cpuTicks: 0,
      childTicks: 0,
      rssBytes: 0,
    });
    const tree = new Map([[101, 100]]);
    const under = (pid: number) => (root: number) => pid === root || tree.get(pid) === root;
    expect(classify(p(101, 100, 'node'), under(101))).toBe('harness:libvirt');
    expect(classify(p(300, 1, 'qemu-system-x86'), under(300))).toBe('guests');
    expect(classify(p(301, 1, 'libvirtd'), under(301))).toBe('daemon');
    expect(classify(p(555, 1, 'node'), under(555))).toBe('daemon');
    expect(classify(p(777, 1, 'bash'), under(777))).toBeUndefined();
  });

  it('samples this machine: its own CPU shows up under the harness', async () => {
    const s = sampleUsage(platformClassifier({ harness: process.pid }), [process.pid], 50);
    const until = performance.now() + 400;
    let x = 0;
    while (performance.now() < until) {
      const slice = performance.now() + 20;
      while (performance.now() < slice) x += Math.sqrt(x + 1);
      // Yield as real work does, so the sampler's interval runs: without samples its own CPU rounds to 0.
      await new Promise((r) => setTimeout(r, 0));
    }
    const { usage: u, peakRssMiB } = s.stop();
    expect(u.cores).toBeGreaterThan(0);
    expect(u.cpuS.harness).toBeGreaterThan(0.1);
    // Reading /proc costs CPU in this same process: it is reported apart, not as harness work.
    expect(u.cpuS.sampler).toBeGreaterThan(0);
    expect(u.cpuS.sampler).toBeLessThan(u.cpuS.harness ?? 0);
    expect(u.cpuBusyPct).toBeGreaterThan(0);
    expect(peakRssMiB.harness).toBeGreaterThan(10);
  });
});

describe('where a scale step hit its limit', () => {
  it('CPU first, naming who used it', () => {
    const l = classifyLimit({
      vms: 8,
      wallMs: 40_000,
      perVm: st(30_000),
      usage: usage({ cpuBusyPct: 97, cpuS: { guests: 15, daemon: 2, harness: 1 } }),
    });
    expect(l.kind).toBe('cpu');
    expect(l.why).toContain('guests 75%');
    expect(machinePct(usage({ cpuS: { guests: 15 } }), 'guests')).toBe(75);
  });

  it('disk when the machine waits on it', () => {
    expect(classifyLimit({ vms: 4, wallMs: 9000, perVm: st(8000), usage: usage({ iowaitPct: 35 }) }).kind).toBe('disk');
  });

  it('the daemon when it burns a core', () => {
    expect(classifyLimit({ vms: 4, wallMs: 9000, perVm: st(8000), usage: usage({ cpuS: { daemon: 9.5 } }) }).kind).toBe(
      'daemon',
    );
  });

  it('the CPU when each VM slowed down and the machine was mostly busy (create and delete dilute the average)', () => {
    const l = classifyLimit(
      { vms: 4, wallMs: 10_300, perVm: st(9000), usage: usage({ cpuBusyPct: 81.5, cpuS: { guests: 13.5 } }) },
      { wallMs: 5900, perVm: st(5900) },
    );
    expect(l).toEqual({
      kind: 'cpu',
      why: 'each VM took 1.5× as long as one alone with the CPU 81.5% busy (guests 67.5% of the machine)',
    });
  });

  it('serialised when wall grows with the count while the machine has room', () => {
    const l = classifyLimit({ vms: 4, wallMs: 3600, perVm: st(1200), usage: usage({}) }, one);
    expect(l.kind).toBe('serialised');
    expect(l.why).toContain('3.6×');
  });

  it('none reached when it scales', () => {
    const l = classifyLimit({ vms: 4, wallMs: 1500, perVm: st(1100), usage: usage({}) }, one);
    expect(l).toEqual({ kind: 'none', why: 'not reached at 4: CPU 20% busy, 1% iowait' });
  });
});
