import { readFileSync } from 'node:fs';
import { describe, expect, it, test } from 'vitest';
import { ConfigInvalid } from '../evidence/errors.js';
import { redactText } from '../evidence/redact.js';
import { loadLabConfig, parseLabConfig, resolveSecret } from './lab-config.js';
import { registry } from './platforms.js';

describe('lab config validation', () => {
  it('fills defaults for the embedded local lab', () => {
    const c = parseLabConfig('platforms:\n  libvirt: {}\n', 'lab.yaml');
    expect(c.platforms.libvirt).toMatchObject({ uri: 'qemu:///system', pool: 'vmconform', accel: 'auto' });
  });

  it('names file, line, field and expectation for a bad value', () => {
    const text = 'outputDir: out\nplatforms:\n  libvirt:\n    uri: http://wrong\n';
    expect(() => parseLabConfig(text, 'lab.yaml')).toThrow(/lab\.yaml:4: platforms\.libvirt\.uri: .*qemu:\/\/\/system/);
  });

  it('fills the documented predictability defaults and names a bad setting', () => {
    const c = parseLabConfig('platforms:\n  libvirt: {}\n', 'lab.yaml');
    expect(c.predictability).toEqual({ repetitions: 20, maxP95OverMedian: 2, minSpreadMs: 100, concurrentVms: 4 });
    expect(
      parseLabConfig('predictability:\n  repetitions: 5\nplatforms:\n  libvirt: {}\n', 'a.yaml').predictability,
    ).toEqual({ repetitions: 5, maxP95OverMedian: 2, minSpreadMs: 100, concurrentVms: 4 });
    expect(() =>
      parseLabConfig('predictability:\n  maxP95OverMedian: 0.5\nplatforms:\n  libvirt: {}\n', 'a.yaml'),
    ).toThrow(/a\.yaml:2: predictability\.maxP95OverMedian/);
  });

  it('rejects unknown fields and unknown platforms by name', () => {
    expect(() => parseLabConfig('platforms:\n  libvirt:\n    poool: x\n', 'a.yaml')).toThrow(/poool/);
    expect(() => parseLabConfig('platforms:\n  vmware: {}\n', 'a.yaml')).toThrow(/vmware/);
  });

  it('fills Incus defaults and names a bad remote URL or instance type', () => {
    const c = parseLabConfig('platforms:\n  incus: {}\n', 'lab.yaml');
    expect(c.platforms.incus).toMatchObject({
      socket: '/var/lib/incus/unix.socket',
      project: 'vmconform',
      instanceType: 'auto',
      network: 'vmcincbr0',
    });
    expect(() => parseLabConfig('platforms:\n  incus:\n    url: http://incus1:8443\n', 'a.yaml')).toThrow(
      /a\.yaml:3: platforms\.incus\.url: .*https:\/\//,
    );
    expect(() => parseLabConfig('platforms:\n  incus:\n    instanceType: vm\n', 'a.yaml')).toThrow(/instanceType/);
    expect(() =>
      parseLabConfig('platforms:\n  incus:\n    url: https://i:8443\n    tls: { key: /k.pem }\n', 'a.yaml'),
    ).toThrow(/platforms\.incus\.tls\.key/);
  });

  it('rejects broken YAML and an empty platform list', () => {
    expect(() => parseLabConfig('platforms: [', 'a.yaml')).toThrow(ConfigInvalid);
    expect(() => parseLabConfig('platforms: {}\n', 'a.yaml')).toThrow(/at least one platform/);
  });

  it('validates the nats section and defaults it to the embedded loopback server', () => {
    const c = parseLabConfig('nats: {}\nplatforms:\n  libvirt: {}\n', 'lab.yaml');
    expect(c.nats).toEqual({ url: 'nats://127.0.0.1:4222', subjectPrefix: 'vmconform', local: true });
    expect(() => parseLabConfig('nats:\n  url: http://x\nplatforms:\n  libvirt: {}\n', 'a.yaml')).toThrow(
      /a\.yaml:2: nats\.url: .*nats:\/\/127\.0\.0\.1:4222/,
    );
    expect(() => parseLabConfig('nats:\n  subjectPrefix: a.b\nplatforms:\n  libvirt: {}\n', 'a.yaml')).toThrow(
      /nats\.subjectPrefix: one NATS subject token/,
    );
  });

  it('says which secret env var is missing, without a value to leak', async () => {
    delete process.env.VMCONFORM_TEST_MISSING;
    await expect(resolveSecret({ env: 'VMCONFORM_TEST_MISSING' }, 'secrets[0]')).rejects.toThrow(
      /secrets\[0\]: environment variable VMCONFORM_TEST_MISSING is not set/,
    );
    await expect(resolveSecret({ file: '/nonexistent/token' }, 'secrets[1]')).rejects.toThrow(
      /cannot read secret file \/nonexistent\/token \(ENOENT\)/,
    );
  });

  it('registers referenced secrets for redaction and keeps them out of the config hash', async () => {
    const canary = 'canary-5f3a9c1e-do-not-leak';
    process.env.VMCONFORM_TEST_CANARY = canary;
    const { writeFile, mkdtemp } = await import('node:fs/promises');
    const dir = await mkdtemp('/tmp/vmconform-cfg-');
    await writeFile(`${dir}/lab.yaml`, 'secrets:\n  - env: VMCONFORM_TEST_CANARY\nplatforms:\n  libvirt: {}\n');
    const { hash, config } = await loadLabConfig(`${dir}/lab.yaml`);
    expect(JSON.stringify(config)).not.toContain(canary);
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(redactText(`token=${canary} in an error`)).toBe('token=[REDACTED] in an error');
  });

  it('reads further sites with their labels, and the lab that provides one brings it up', async () => {
    const text = [
      'platforms:',
      '  libvirt:',
      '    site: site-a',
      '    failureDomain: fd-a',
      '    sites:',
      '      - name: site-b',
      '        failureDomain: fd-b',
      '        lab: site-b',
      '        uri: qemu+ssh://root@172.31.250.2/system',
      '        ssh: { user: root, privateKey: { file: /k }, knownHosts: /kh }',
      '',
    ].join('\n');
    const c = parseLabConfig(text, 'lab.yaml');
    expect(c.platforms.libvirt?.sites).toMatchObject([{ name: 'site-b', failureDomain: 'fd-b', labControl: true }]);
    expect(registry.labsFor(c.platforms, ['libvirt'])).toEqual(['libvirt', 'site-b']);
    expect(registry.labsFor(parseLabConfig('platforms:\n  libvirt: {}\n', 'a.yaml').platforms, ['libvirt'])).toEqual([
      'libvirt',
    ]);
  });

  it('names the field when sites are unlabelled, duplicated or have a bad URI', () => {
    const site = (name: string, uri = 'qemu+ssh://h/system') => `      - { name: ${name}, uri: '${uri}' }`;
    const cfg = (first: string, ...sites: string[]) =>
      ['platforms:', '  libvirt:', first, '    sites:', ...sites, ''].join('\n');
    expect(() => parseLabConfig(cfg('    accel: auto', site('b')), 'a.yaml')).toThrow(
      /platforms\.libvirt\.site: a site name/,
    );
    expect(() => parseLabConfig(cfg('    site: a', site('a')), 'a.yaml')).toThrow(
      /sites\.0\.name: site name 'a' is used twice/,
    );
    expect(() => parseLabConfig(cfg('    site: a', site('b', 'ssh://h')), 'a.yaml')).toThrow(
      /sites\.0\.uri: .*libvirt URI/,
    );
  });
});

const read = (f: string) => readFileSync(new URL(f, import.meta.url), 'utf8');

describe('proxmox lab config', () => {
  test('the local simulator section and the real-host example validate', () => {
    const local = parseLabConfig(read('../lab/lab.local.yaml'), 'lab.local.yaml').platforms.proxmox;
    expect(local?.simulator).toBe(true);
    expect(local?.tls.fingerprint256).toEqual({ file: '/var/lib/vmconform/proxmox/cert.sha256' });
    const real = parseLabConfig(read('./proxmox/real-host.example.yaml'), 'real-host.example.yaml').platforms.proxmox;
    expect(real).toMatchObject({ simulator: false, tokenSecret: { env: 'PVE_TOKEN_SECRET' }, node: 'pve1' });
  });

  test('a bad token id or URL names the field and what was expected', () => {
    const bad = (proxmox: string) => () => parseLabConfig(`platforms:\n  proxmox:\n${proxmox}`, 'x.yaml');
    expect(bad('    tokenId: root-pam')).toThrow(ConfigInvalid);
    expect(bad('    tokenId: root-pam')).toThrow(/platforms\.proxmox\.tokenId: an API token id USER@REALM!TOKENID/);
    expect(bad('    url: http://pve1:8006/')).toThrow(/platforms\.proxmox\.url: https:\/\/HOST:8006\/api2\/json/);
    expect(bad('    tokenSecret: hunter22')).toThrow(/platforms\.proxmox\.tokenSecret/);
  });
});
