import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { boots, diskBySerial, lastBoot, lastState, nicByMac, parseConsole } from './report.js';

const fixture = readFileSync(new URL('../../fixtures/guest/console-sample.log', import.meta.url), 'utf8');

const SHA = '4fc5bd889f9b4c69add1d97fc2dee395fe193c6ef0ba6016629ee1bf1340412e';

describe('parseConsole on a real serial log (2 boots, disk + NIC hotplug, ACPI shutdown)', () => {
  const report = parseConsole(fixture);

  it('finds every protocol line in order and nothing malformed', () => {
    expect(report.malformed).toEqual([]);
    expect(report.partial).toBeUndefined();
    expect(report.events.map((e) => e.kind)).toEqual([
      'userdata',
      'metadata',
      'ready',
      'state',
      'state',
      'state',
      'userdata',
      'metadata',
      'ready',
      'state',
      'shutdown',
    ]);
  });

  it('parses READY, USERDATA and METADATA fields', () => {
    const ready = report.events.find((e) => e.kind === 'ready');
    expect(ready).toMatchObject({
      kind: 'ready',
      bootId: '6a3bbbb6-a141-4e41-a3da-b9532195c6c0',
      kernel: '6.1.0-56-cloud-amd64',
    });
    expect(fixture.split('\n')[(ready?.line ?? 0) - 1]).toContain('VMC READY boot_id=6a3bbbb6');
    expect(report.events[0]).toMatchObject({ kind: 'userdata', status: 'ran', rc: 0, sha256: SHA });
    expect(report.events[1]).toMatchObject({ kind: 'metadata', instanceId: 'i-123' });
  });

  it('parses the first STATE: boot disk header, seed, data disk written by user data, NICs by MAC', () => {
    const s = report.events[3];
    expect(s?.kind).toBe('state');
    if (s?.kind !== 'state') return;
    expect(s.seq).toBe(1);
    expect(s.disks).toEqual([
      { name: 'vda', serial: 'boot', bytes: 33554432, hdr: 'VMCIMG:base-v1' },
      { name: 'vdb', serial: 'seed', bytes: 374784, hdr: '' },
      { name: 'vdc', serial: 'data1', bytes: 8388608, hdr: 'VMCDATA:hello' },
    ]);
    expect(s.nics).toEqual([
      { name: 'eth0', mac: '52:54:00:00:00:0a' },
      { name: 'eth1', mac: '52:54:00:00:00:0b' },
    ]);
  });

  it('groups into boots with hotplugged devices and the shutdown', () => {
    const bs = boots(report);
    expect(bs).toHaveLength(2);
    const [b1, b2] = bs;
    expect(b1?.ready.bootId).not.toBe(b2?.ready.bootId);
    expect(b1?.userdata?.rc).toBe(0);
    expect(b2?.userdata?.sha256).toBe(SHA);
    expect(b2?.metadata?.instanceId).toBe('i-123');
    expect(b1?.states.map((s) => s.seq)).toEqual([1, 2, 3]);
    expect(b1?.shutdown).toBeUndefined(); // first boot ended by system_reset
    const hot = b1?.states[1];
    expect(hot && diskBySerial(hot, 'hot9')).toEqual({ name: 'vdd', serial: 'hot9', bytes: 16777216, hdr: '' });
    expect(b1?.states[2]?.nics.map((n) => n.mac)).toEqual([
      '52:54:00:00:00:0a',
      '52:54:00:00:00:0b',
      '52:54:00:00:00:0c',
    ]);
    expect(b2?.states).toHaveLength(1);
    expect(b2?.shutdown).toMatchObject({ kind: 'shutdown', source: 'acpi' });
  });

  it('lastState / lastBoot refer to the newest boot', () => {
    const s = lastState(report);
    expect(s?.seq).toBe(1);
    expect(s?.disks.map((d) => d.serial)).toEqual(['boot', 'seed', 'data1', 'hot9']);
    expect(s && nicByMac(s, '52:54:00:00:00:0C')?.name).toBe('eth2');
    expect(lastBoot(report)?.ready.bootId).toBe('bcfbb177-681c-4538-aaed-d6c8a5ab2ea1');
  });

  it('gives the same result with LF instead of CRLF', () => {
    const lf = parseConsole(fixture.replace(/\r\n/g, '\n'));
    expect(lf.events).toEqual(report.events);
  });
});

describe('parseConsole edge cases', () => {
  const ready = 'VMC READY boot_id=0b1c7e2a-1111-2222-3333-444455556666 kernel=6.1.0-56-cloud-amd64';
  const state1 = 'VMC STATE seq=1 disks=vda:boot:1048576:VMCIMG:base-v1 nics=eth0:52:54:00:AA:BB:0C';

  it('reads the optional firmware, CPU and memory fields of READY, and refuses a bad firmware word', () => {
    const r = parseConsole(`${ready} fw=uefi cpus=2 mem_kib=254012\n${ready} fw=bios\n${ready} fw=coreboot\n`);
    expect(r.events[0]).toMatchObject({ kind: 'ready', firmware: 'uefi', cpus: 2, memKiB: 254012 });
    expect(r.events[1]).toMatchObject({ kind: 'ready', firmware: 'bios' });
    expect(r.events[1]).not.toHaveProperty('cpus');
    expect(r.malformed.map((m) => m.reason)).toEqual(['bad fw: "coreboot"']);
  });

  it('ignores a partially written last line until its newline arrives', () => {
    const text = `${ready}\r\nVMC STATE seq=1 disks=vda:boot:1048576:VMC`;
    const r = parseConsole(text);
    expect(r.events.map((e) => e.kind)).toEqual(['ready']);
    expect(r.partial).toBe('VMC STATE seq=1 disks=vda:boot:1048576:VMC');
    expect(lastState(r)).toBeUndefined();
    const r2 = parseConsole(`${text}IMG:base-v1 nics=\r\n`);
    expect(lastState(r2)?.disks[0]?.hdr).toBe('VMCIMG:base-v1');
    expect(r2.partial).toBeUndefined();
  });

  it('lower-cases MACs and handles empty lists and empty serial/hdr', () => {
    const r = parseConsole(`${ready}\n${state1}\nVMC STATE seq=2 disks= nics=\nVMC STATE seq=3 disks=vdb::0: nics=\n`);
    const states = boots(r)[0]?.states ?? [];
    expect(states[0]?.nics).toEqual([{ name: 'eth0', mac: '52:54:00:aa:bb:0c' }]);
    expect(states[1]).toMatchObject({ seq: 2, disks: [], nics: [] });
    expect(states[2]?.disks).toEqual([{ name: 'vdb', serial: '', bytes: 0, hdr: '' }]);
  });

  it('finds the marker after firmware escape sequences on the same line', () => {
    const r = parseConsole(`Booting from ROM..\x1bc\x1b[?7l\x1b[2J${ready}\r\n`);
    expect(r.events[0]).toMatchObject({ kind: 'ready', bootId: '0b1c7e2a-1111-2222-3333-444455556666' });
  });

  it('tolerates kernel lines between protocol lines and a kernel message spliced into a VMC line', () => {
    const text = [
      '[    3.694247] input: Power Button as /devices/LNXSYSTM:00/LNXPWRBN:00/input/input2',
      ready,
      '[    4.687734] IPv6: ADDRCONF(NETDEV_CHANGE): eth0: link becomes ready',
      'VMC STATE seq=1 disks=vda:boot:1048576:VM[    5.671193] pci 0000:01:00.0: [1af4:1042] type 00 class 0x010000',
      'CIMG:base-v1,vdb:data:4096: nics=eth0:52:54:00:00:00:0a',
      'VMC STATE seq=2 disks= nics=eth0:52:54:00:00:00:0a[    7.0] virtio_net virtio1 eth0: hello',
      '',
      'VMC SHUTDOWN source=acpi',
      '[    7.160472] reboot: Power down',
      '',
    ].join('\r\n');
    const r = parseConsole(text);
    expect(r.malformed).toEqual([]);
    const b = boots(r)[0];
    expect(b?.states[0]?.disks).toEqual([
      { name: 'vda', serial: 'boot', bytes: 1048576, hdr: 'VMCIMG:base-v1' },
      { name: 'vdb', serial: 'data', bytes: 4096, hdr: '' },
    ]);
    expect(b?.states[1]?.nics).toEqual([{ name: 'eth0', mac: '52:54:00:00:00:0a' }]);
    expect(b?.shutdown?.source).toBe('acpi');
  });

  it('reports malformed VMC lines instead of guessing, and ignores look-alikes', () => {
    const text = [
      ready,
      'VMC STATE seq=x disks= nics=',
      'VMC STATE seq=2 disks=vda:boot nics=',
      'VMC STATE seq=3 disks= nics=eth0:zz',
      'VMC USERDATA status=ran rc=0 sha256=abc',
      'VMC READYNESS is not a verb',
      'xVMC FOO bar=1',
      '',
    ].join('\n');
    const r = parseConsole(text);
    expect(r.events.map((e) => e.kind)).toEqual(['ready']);
    expect(r.malformed.map((m) => m.line)).toEqual([2, 3, 4, 5]);
    expect(r.malformed[0]?.reason).toContain('seq');
    expect(r.malformed[1]?.reason).toContain('disk entry');
    expect(r.malformed[2]?.reason).toContain('mac');
    expect(r.malformed[3]?.reason).toContain('sha256');
  });

  it('ignores unknown extra fields (forward compatible) and parses negative rc / skipped', () => {
    const r = parseConsole(
      `VMC USERDATA status=skipped rc=-1 sha256=${SHA} extra=1\nVMC METADATA instance_id=\n${ready} arch=x86_64\n`,
    );
    const b = boots(r)[0];
    expect(b?.userdata).toMatchObject({ status: 'skipped', rc: -1 });
    expect(b?.metadata?.instanceId).toBe('');
    expect(b?.ready.kernel).toBe('6.1.0-56-cloud-amd64');
  });

  it('attaches pre-READY user data to the next boot, post-READY user data to the current one', () => {
    const ud = (rc: number) => `VMC USERDATA status=ran rc=${rc} sha256=${SHA}`;
    const ready2 = ready.replace('0b1c7e2a', 'ffffffff');
    const text = [
      'VMC STATE seq=7 disks= nics=', // tail of an earlier boot whose READY is not in the log
      'VMC METADATA instance_id=first', // before READY of boot 1
      ready,
      state1,
      ud(2), // printed after READY by some other guest: belongs to boot 1
      'VMC STATE seq=2 disks= nics=',
      ud(3), // before READY of boot 2
      ready2,
      ud(4), // at the very end: waits for a READY, in no boot
      '',
    ].join('\n');
    const bs = boots(parseConsole(text));
    expect(bs).toHaveLength(2);
    expect(bs[0]?.metadata?.instanceId).toBe('first');
    expect(bs[0]?.userdata?.rc).toBe(2);
    expect(bs[0]?.states.map((s) => s.seq)).toEqual([1, 2]);
    expect(bs[1]?.userdata?.rc).toBe(3);
    expect(bs[1]?.metadata).toBeUndefined();
    expect(bs[1]?.states).toEqual([]);
    expect(lastState(parseConsole(text))).toBeUndefined();
  });

  it('returns nothing for empty or protocol-free text', () => {
    expect(parseConsole('')).toEqual({ events: [], malformed: [], partial: undefined });
    const r = parseConsole('SeaBIOS (version 1.16.2)\r\n[    0.000000] Linux version 6.1.0\r\n');
    expect(r.events).toEqual([]);
    expect(boots(r)).toEqual([]);
    expect(lastBoot(r)).toBeUndefined();
  });
});
