/**
 * The guest view of a domain on a remote libvirt host (qemu+ssh): its serial console log file, read
 * over SFTP with ssh2. The host key must match a known_hosts entry; without one nothing connects.
 */
import { createHmac } from 'node:crypto';
import { Client, type SFTPWrapper } from 'ssh2';
import { PlatformError, Timeout } from '../../evidence/errors.js';

export interface RemoteHost {
  host: string;
  port: number;
  username: string;
  /** The private key itself (resolved from the config's secret reference, registered for redaction). */
  privateKey: string;
  /** Raw public key blobs the host may present (from known_hosts). */
  hostKeys: Buffer[];
  connectTimeoutMs?: number;
}

/**
 * Host key blobs known_hosts lists for `host` (port 22 form), plain or hashed (`|1|salt|hmac`) names.
 * Pure: unit-tested on text. `@revoked`/`@cert-authority` lines are not trusted.
 */
export function knownHostKeys(text: string, host: string): Buffer[] {
  const out: Buffer[] = [];
  for (const line of text.split('\n')) {
    const parts = line.trim().split(/\s+/);
    if (parts.length < 3 || parts[0]?.startsWith('#') || parts[0]?.startsWith('@')) continue;
    const [names, , blob] = parts as [string, string, string];
    const matches = names.split(',').some((n) => {
      if (!n.startsWith('|1|')) return n === host;
      const [, , salt, hash] = n.split('|');
      if (!salt || !hash) return false;
      return createHmac('sha1', Buffer.from(salt, 'base64')).update(host).digest('base64') === hash;
    });
    if (matches) out.push(Buffer.from(blob, 'base64'));
  }
  return out;
}

/** One ssh connection per remote host, opened on first use and reopened after the host was lost. */
export class RemoteFiles {
  private conn: Promise<{ client: Client; sftp: SFTPWrapper }> | undefined;

  constructor(private readonly remote: RemoteHost) {}

  private connect(): Promise<{ client: Client; sftp: SFTPWrapper }> {
    const r = this.remote;
    return new Promise((resolve, reject) => {
      const client = new Client();
      const fail = (e: Error) => {
        client.end();
        reject(
          /timed out/i.test(e.message)
            ? new Timeout(`ssh to ${r.host}: ${e.message}`, r.connectTimeoutMs ?? 10_000)
            : new PlatformError(`ssh to ${r.host} failed: ${e.message}`, 'ssh', e.message),
        );
      };
      client
        .once('ready', () =>
          client.sftp((err, sftp) => {
            if (err) return fail(err);
            resolve({ client, sftp });
          }),
        )
        .once('error', fail)
        .once('close', () => {
          this.conn = undefined;
        })
        .connect({
          host: r.host,
          port: r.port,
          username: r.username,
          privateKey: r.privateKey,
          readyTimeout: r.connectTimeoutMs ?? 10_000,
          // A host that vanished (site lost) is noticed in ~15 s instead of TCP's minutes.
          keepaliveInterval: 5_000,
          keepaliveCountMax: 3,
          // Only a host key the lab config lists is accepted.
          hostVerifier: (key: Buffer) => r.hostKeys.some((k) => k.equals(key)),
        });
    });
  }

  private session() {
    this.conn ??= this.connect().catch((e) => {
      this.conn = undefined;
      throw e;
    });
    return this.conn;
  }

  /** The file's text, or '' when it does not exist yet (a domain that never started has no log). */
  async read(path: string): Promise<string> {
    const { client, sftp } = await this.session();
    const limitMs = this.remote.connectTimeoutMs ?? 10_000;
    return new Promise((resolve, reject) => {
      // Bounded: a read on a connection whose host is gone would otherwise wait for TCP to give up.
      const timer = setTimeout(() => {
        client.end();
        reject(new Timeout(`sftp read ${path} on ${this.remote.host}: no answer within ${limitMs} ms`, limitMs));
      }, limitMs);
      sftp.readFile(path, (err: (Error & { code?: number }) | undefined, data: Buffer) => {
        clearTimeout(timer);
        // SFTP status 2 is "no such file".
        if (err)
          return err.code === 2
            ? resolve('')
            : reject(new PlatformError(`sftp read ${path}: ${err.message}`, 'ssh', err.message));
        resolve(data.toString('utf8'));
      });
    });
  }

  async remove(path: string): Promise<void> {
    const { sftp } = await this.session();
    await new Promise<void>((resolve) => sftp.unlink(path, () => resolve()));
  }

  async close(): Promise<void> {
    const c = this.conn;
    this.conn = undefined;
    if (c) (await c.catch(() => undefined))?.client.end();
  }
}
