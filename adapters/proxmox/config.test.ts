import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { ConfigInvalid } from '../../evidence/errors.js';
import { parseLabConfig } from '../lab-config.js';

const read = (f: string) => readFileSync(new URL(f, import.meta.url), 'utf8');

describe('proxmox lab config', () => {
  test('the local simulator section and the real-host example validate', () => {
    const local = parseLabConfig(read('../../lab/lab.local.yaml'), 'lab.local.yaml').platforms.proxmox;
    expect(local?.simulator).toBe(true);
    expect(local?.tls.fingerprint256).toEqual({ file: '/var/lib/vmconform/proxmox/cert.sha256' });
    const real = parseLabConfig(read('./real-host.example.yaml'), 'real-host.example.yaml').platforms.proxmox;
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
