import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { knownHostKeys } from './remote-console.js';

const blobA = Buffer.from('ssh-ed25519 key A').toString('base64');
const blobB = Buffer.from('ssh-ed25519 key B').toString('base64');

describe('known_hosts lookup for the remote guest view', () => {
  it('returns the keys listed for the host, plain or among several names', () => {
    const text = `172.31.250.2 ssh-ed25519 ${blobA}\nother,172.31.250.2 ssh-ed25519 ${blobB} comment\n10.0.0.1 ssh-ed25519 ${blobB}\n`;
    expect(knownHostKeys(text, '172.31.250.2').map((b) => b.toString())).toEqual([
      'ssh-ed25519 key A',
      'ssh-ed25519 key B',
    ]);
  });

  it('matches hashed host names (|1|salt|hmac-sha1)', () => {
    const salt = Buffer.from('0123456789abcdefghij');
    const hash = createHmac('sha1', salt).update('172.31.250.2').digest('base64');
    const text = `|1|${salt.toString('base64')}|${hash} ssh-ed25519 ${blobA}\n`;
    expect(knownHostKeys(text, '172.31.250.2')).toHaveLength(1);
    expect(knownHostKeys(text, '172.31.250.3')).toHaveLength(0);
  });

  it('trusts no comment, marker (@revoked, @cert-authority) or unrelated host', () => {
    const text = `# 172.31.250.2 ssh-ed25519 ${blobA}\n@revoked 172.31.250.2 ssh-ed25519 ${blobA}\n172.31.250.20 ssh-ed25519 ${blobA}\n`;
    expect(knownHostKeys(text, '172.31.250.2')).toEqual([]);
  });
});
