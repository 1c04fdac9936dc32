import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PlatformError, powerStates } from '../contract/index.js';
import {
  buildDomainXml,
  type DomainBuild,
  imageVolumeName,
  libvirtStateMap,
  mapDomState,
  nextFreeTarget,
  parseDomainXml,
  parseImageVolumeName,
  parseVolumeXml,
} from './mapping.js';
import {
  parseCapabilities,
  parseDomStats,
  parseDomStatsRecords,
  parseEventLine,
  parseNodeCpuStats,
  parseNodeMemTotal,
  parsePoolXml,
  parseVersion,
  toVmMetrics,
} from './virsh-output.js';

const fixture = (name: string) => readFileSync(new URL(`../../fixtures/libvirt/${name}`, import.meta.url), 'utf8');

describe('libvirt state mapping', () => {
  it('maps every virDomainState word onto a contract state', () => {
    // The nine states of virDomainState plus idle, as virsh domstate prints them.
    const words = [
      'no state',
      'running',
      'idle',
      'blocked',
      'paused',
      'in shutdown',
      'shut off',
      'crashed',
      'pmsuspended',
      'dying',
    ];
    for (const w of words) expect(powerStates).toContain(libvirtStateMap[w]);
    expect(mapDomState(fixture('domstate-running.txt')).power).toBe('running');
    expect(mapDomState(fixture('domstate-shutoff.txt')).power).toBe('stopped');
    expect(mapDomState('shut off (destroyed)\n')).toEqual({ power: 'stopped', raw: 'shut off (destroyed)' });
  });

  it('refuses a state it cannot map instead of guessing', () => {
    expect(() => mapDomState('hibernating')).toThrow(/unmapped libvirt domain state 'hibernating'/);
  });
});

describe('domain XML read back from a real libvirt', () => {
  const d = parseDomainXml(fixture('dumpxml-running.xml'), { 'vmconform/vmc-fixture-rec-boot': 64 * 1024 * 1024 });

  it('reads identity, CPU and memory', () => {
    expect(d.name).toBe('vmc-fixture-rec');
    expect(d.uuid).toMatch(/^[0-9a-f-]{36}$/);
    expect(d.config.vcpus).toBe(1);
    expect(d.config.memoryMiB).toBe(256);
  });

  it('reads ownership, placement and metadata from the vmconform metadata element', () => {
    expect(d.config.owner).toMatchObject({ marker: 'vmconform', runId: 'fixture' });
    expect(d.config.placement).toEqual({ site: 'site-a', failureDomain: 'rack-1' });
    expect(d.config.metadata).toEqual({ tenant: 'acme', project: 'web', environment: 'prod', 'sentral-id': 'vm-0042' });
    expect(d.ownedVolumes).toEqual(['vmc-fixture-rec-']);
  });

  it('reads disks with deterministic targets, serials and roles', () => {
    expect(d.config.disks.map((x) => [x.target, x.serial, x.role, x.volumeId])).toEqual([
      ['vda', 'boot', 'boot', 'vmconform/vmc-fixture-rec-boot'],
      ['vdb', 'data1', 'data', 'vmconform/vmc-fixture-rec-data1'],
    ]);
    expect(d.config.disks[0]?.sizeBytes).toBe(64 * 1024 * 1024);
  });

  it('reads NICs in order with MAC, network and whether the bridge is external', () => {
    expect(d.config.nics.map((n) => [n.index, n.mac, n.network, n.external, n.model])).toEqual([
      [0, '52:54:00:aa:00:01', 'vmconform-net', false, 'virtio'],
      [1, '52:54:00:aa:00:02', 'vmc-ext0', true, 'virtio'],
    ]);
  });

  it('finds the console log the guest-side view reads', () => {
    expect(d.consoleLog).toBe('/var/lib/vmconform/libvirt/console/vmc-fixture-rec.log');
  });

  it('rejects a document that is not a domain', () => {
    expect(() => parseDomainXml('<network><name>x</name></network>')).toThrow(/not a libvirt domain/);
  });
});

describe('building domain XML', () => {
  const build: DomainBuild = {
    name: 'vmc-r1-a',
    vcpus: 2,
    memoryMiB: 512,
    accel: 'tcg',
    kernel: '/k',
    initrd: '/i',
    cmdline: 'console=ttyS0',
    consoleLog: '/log/a.log',
    pool: 'vmconform',
    disks: [{ volume: 'vmc-r1-a-boot', target: 'vda', serial: 'boot', format: 'qcow2' }],
    nics: [
      { network: 'net', mac: '52:54:00:00:00:01' },
      { network: 'br0', external: true, mac: '52:54:00:00:00:02', vlan: 10 },
    ],
    owner: { marker: 'vmconform', runId: 'r1', createdAt: '2026-01-01T00:00:00Z' },
    metadata: { tenant: 't & <co>', label: 'Prod – æøå "q" \'s\'', spaces: '  kept  ', empty: '' },
    placement: { site: 's1' },
    ownedVolumes: ['vmc-r1-a-'],
  };
  const xml = buildDomainXml(build);

  it('round-trips through the parser', () => {
    const d = parseDomainXml(xml);
    expect(d.config.metadata).toEqual({
      tenant: 't & <co>',
      label: 'Prod – æøå "q" \'s\'',
      spaces: '  kept  ',
      empty: '',
    });
    expect(d.config.owner?.runId).toBe('r1');
    expect(d.config.placement).toEqual({ site: 's1' });
    expect(d.config.nics.map((n) => [n.mac, n.network, n.external, n.vlan])).toEqual([
      ['52:54:00:00:00:01', 'net', false, undefined],
      ['52:54:00:00:00:02', 'br0', true, 10],
    ]);
    expect(d.config.memoryMiB).toBe(512);
  });

  it('uses TCG (type qemu) unless KVM was proven, and reserves hotplug ports on q35', () => {
    expect(xml).toContain('<domain type="qemu">');
    expect(xml).toContain('model="pcie-root"');
    expect(xml.match(/pcie-root-port/g)?.length).toBe(8);
  });

  it("names libvirt's default emulator unless the config gives another (the lying-QEMU lab test)", () => {
    expect(xml).not.toContain('<emulator>');
    const other = buildDomainXml({ ...build, emulator: '/tmp/w/qemu-system-x86_64' });
    expect(other).toMatch(/<devices>\s*<emulator>\/tmp\/w\/qemu-system-x86_64<\/emulator>/);
  });
});

describe('other virsh output', () => {
  it('reads volume XML with backing store', () => {
    const v = parseVolumeXml(fixture('vol-dumpxml-boot.xml'));
    expect(v).toMatchObject({ name: 'vmc-fixture-rec-boot', capacity: 64 * 1024 * 1024, format: 'qcow2' });
    expect(v.backing).toMatch(/vmc-base-v1$/);
  });

  it('reads host identity and capacity from capabilities', () => {
    const c = parseCapabilities(fixture('capabilities.xml'));
    expect(c.uuid).toMatch(/^[0-9a-f-]{36}$/);
    expect(c.cpus).toBeGreaterThan(0);
    expect(c.memoryBytes).toBeGreaterThan(1024 ** 3);
  });

  it('reads total host memory from nodememstats, not the NUMA cell sum', () => {
    expect(parseNodeMemTotal(fixture('nodememstats.txt'))).toBeGreaterThan(
      parseCapabilities(fixture('capabilities.xml')).memoryBytes,
    );
    expect(() => parseNodeMemTotal('free: 1 KiB')).toThrow(/no total/);
  });

  it('reads allocation from domstats', () => {
    const s = parseDomStats(fixture('domstats.txt'));
    expect(s.find((x) => x.domain === 'vmc-fixture-rec')).toEqual({
      domain: 'vmc-fixture-rec',
      vcpus: 1,
      memoryBytes: 256 * 1024 * 1024,
    });
  });

  it('reads versions', () => {
    expect(parseVersion(fixture('version.txt'))).toMatchObject({
      library: expect.stringMatching(/^\d+\.\d+/),
      daemon: expect.stringMatching(/^\d+\.\d+/),
    });
  });

  it('parses virsh event lines into contract events', () => {
    const lines = fixture('events.txt').trim().split('\n');
    const events = lines.map((l) => parseEventLine(l, 0));
    expect(events.every((e) => e?.kind === 'lifecycle' && e.vm === 'vmc-fixture-rec' && e.source === 'push')).toBe(
      true,
    );
    expect(events.map((e) => e?.detail)).toContain('lifecycle: Started Booted');
    expect(parseEventLine('events received: 3', 0)).toBeUndefined();
  });

  it('reads VM counters from domstats', () => {
    const r = [...parseDomStatsRecords(fixture('domstats-full.txt')).values()][0] ?? {};
    const m = toVmMetrics(r);
    expect(m.cpuTimeNs).toBeGreaterThan(0);
    expect(m.memoryBytes).toBe(256 * 1024 * 1024);
    expect(m.disks.map((d) => d.target)).toEqual(['vda', 'vdb']);
    expect(m.disks[0]?.readBytes).toBeGreaterThan(0);
    expect(m.nics).toHaveLength(2);
  });

  it('reads pool capacity and usage, and host CPU counters', () => {
    const p = parsePoolXml(fixture('pool-dumpxml.xml'));
    expect(p).toMatchObject({ name: 'vmconform', type: 'dir' });
    expect(p.capacityBytes).toBeGreaterThan(p.availableBytes);
    const cpu = parseNodeCpuStats(fixture('nodecpustats.txt'));
    expect(cpu.user).toBeGreaterThan(0);
    expect(cpu.idle).toBeGreaterThan(0);
  });

  it('assigns the first free target after the boot disk', () => {
    expect(nextFreeTarget(['vda'])).toBe('vdb');
    expect(nextFreeTarget(['vda', 'vdb', 'vdd'])).toBe('vdc');
  });
});

describe('UEFI firmware (IMG-04)', () => {
  const build = {
    name: 'vmc-x',
    vcpus: 1,
    memoryMiB: 256,
    accel: 'tcg' as const,
    kernel: '/k',
    initrd: '/i',
    cmdline: 'console=ttyS0',
    consoleLog: '/c.log',
    pool: 'vmconform',
    disks: [],
    nics: [],
    owner: { marker: 'vmconform' as const, runId: '20261125t0000-abcd', createdAt: 'x' },
    metadata: {},
    ownedVolumes: [],
  };

  it('asks libvirt for OVMF without Secure Boot, and reads it back before and after the first start', () => {
    const xml = buildDomainXml({ ...build, firmware: 'uefi' });
    expect(xml).toContain(`<os firmware="efi">`);
    expect(xml).toMatch(/<feature enabled="no" name="secure-boot"\/>/);
    expect(parseDomainXml(xml).config.firmware).toBe('uefi');
    // As libvirt keeps it after define (firmware='efi') and after start (the chosen OVMF loader).
    expect(parseDomainXml(fixture('dumpxml-uefi-defined.xml')).config.firmware).toBe('uefi');
    expect(parseDomainXml(fixture('dumpxml-uefi-running.xml')).config.firmware).toBe('uefi');
  });

  it('leaves a BIOS domain without firmware elements', () => {
    const xml = buildDomainXml(build);
    expect(xml).not.toContain('firmware');
    expect(parseDomainXml(xml).config.firmware).toBe('bios');
    expect(parseDomainXml(fixture('dumpxml-running.xml')).config.firmware).toBe('bios');
  });
});

describe('image versions as volume names (IMG-02)', () => {
  it('publishes version V of N as N--V and reads both back', () => {
    expect(imageVolumeName('vmc-20261125t0000-abcd-img2', '1')).toBe('vmc-20261125t0000-abcd-img2--1');
    expect(parseImageVolumeName('vmc-20261125t0000-abcd-img2--1.2')).toEqual({
      name: 'vmc-20261125t0000-abcd-img2',
      version: '1.2',
    });
    // The lab's own base image predates versions: no version is invented for it.
    expect(parseImageVolumeName('vmc-base-v1')).toEqual({ name: 'vmc-base-v1' });
  });

  it('refuses a version that would make the name ambiguous or unsafe', () => {
    expect(() => imageVolumeName('n', 'a--b')).toThrow(/no '--'/);
    expect(() => imageVolumeName('n', '1/2')).toThrow(/image version '1\/2'/);
    expect(() => imageVolumeName('n', '')).toThrow(PlatformError);
  });
});
