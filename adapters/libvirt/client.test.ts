import { describe, expect, it } from 'vitest';
import { AuthFailed, Conflict, NotFound, PlatformError } from '../../evidence/errors.js';
import { mapVirshError } from './client.js';

// Error text as virsh 9.0 prints it (recorded from this lab's transcripts).
describe('virsh error mapping', () => {
  it('maps missing objects to NotFound', () => {
    expect(
      mapVirshError(
        ['domstate'],
        "error: failed to get domain 'x'\nerror: Domain not found: no domain with matching name 'x'",
      ),
    ).toBeInstanceOf(NotFound);
    expect(
      mapVirshError(
        ['vol-path'],
        "error: failed to get vol 'nope'\nerror: Storage volume not found: no storage vol with matching path 'nope'",
      ),
    ).toBeInstanceOf(NotFound);
  });

  it('names a full pool and an unreachable daemon in the platform code', () => {
    const full = mapVirshError(
      ['vol-create-as'],
      "error: Failed to create vol vmc-x-huge\nerror: cannot allocate 33554432 bytes in file '/var/lib/vmconform/libvirt/small/vmc-x-huge': No space left on device",
    );
    expect(full).toBeInstanceOf(PlatformError);
    expect((full as PlatformError).platformCode).toBe('no-space');
    const down = mapVirshError(
      ['dumpxml'],
      "error: failed to connect to the hypervisor\nerror: Failed to connect socket to '/var/run/libvirt/libvirt-sock': No such file or directory",
    );
    expect((down as PlatformError).platformCode).toBe('daemon-unreachable');
  });

  it('maps invalid transitions to Conflict', () => {
    expect(
      mapVirshError(
        ['start'],
        'error: Failed to start domain x\nerror: Requested operation is not valid: domain is already running',
      ),
    ).toBeInstanceOf(Conflict);
    expect(
      mapVirshError(
        ['shutdown'],
        'error: Failed to shutdown domain x\nerror: Requested operation is not valid: domain is not running',
      ),
    ).toBeInstanceOf(Conflict);
  });

  it('maps refused connections to AuthFailed', () => {
    const e = mapVirshError(
      ['version'],
      "error: failed to connect to the hypervisor\nerror: Failed to connect socket to '/var/run/libvirt/libvirt-sock': Permission denied",
    );
    expect(e).toBeInstanceOf(AuthFailed);
  });

  it('keeps the platform message verbatim in anything else', () => {
    const e = mapVirshError(
      ['define'],
      "error: Failed to define domain\nerror: XML error: The PCI controller with index='0' must be model='pcie-root'",
    );
    expect(e).toBeInstanceOf(PlatformError);
    expect((e as PlatformError).platformMessage).toContain("must be model='pcie-root'");
    expect(e.message).toContain('virsh define failed');
  });

  it('marks a remote host that cannot be reached (a lost site) as unreachable', () => {
    const e = mapVirshError(
      ['dumpxml'],
      'error: failed to connect to the hypervisor\nerror: Cannot recv data: ssh: connect to host 172.31.250.2 port 22: No route to host: Connection reset by peer',
    );
    expect(e).toBeInstanceOf(PlatformError);
    expect((e as PlatformError).platformCode).toBe('unreachable');
  });
});
