import { execa } from 'execa';
import {
  AuthFailed,
  Conflict,
  NotFound,
  PlatformError,
  Unsupported,
  type VmconformError,
} from '../../evidence/errors.js';
import type { Transcript } from '../../evidence/transcript.js';
import { needsOneShot, type SessionAnswer, SessionTimeout, VirshPool } from './virsh-session.js';

export interface VirshOptions {
  uri: string;
  transcript: Transcript;
  /** Backstop per command; waits for state are done by the adapter under wait policies. */
  commandTimeoutMs?: number;
  /** Run virsh as this uid: used to prove that wrong credentials give a typed error (AUT-01). */
  uid?: number;
  /** The virsh program and any leading arguments (a fake virsh in tests). */
  argv?: readonly string[];
}

/**
 * Maps virsh's "error: ..." text onto typed errors. virsh exposes no numeric error codes, so the
 * libvirt message itself is the platform code source; the full text is kept verbatim.
 */
export function mapVirshError(args: string[], stderr: string): VmconformError {
  const text = stderr
    .split('\n')
    .map((l) => l.replace(/^error:\s*/, '').trim())
    .filter(Boolean)
    .join(' | ');
  const what = `virsh ${args[0] ?? ''}`;
  const msg = `${what} failed: ${text}`;
  // The daemon went away during the call: a lookup that failed with it says nothing about the object.
  if (/disconnected from \S+ due to|end of file while reading data|client socket is closed/i.test(text))
    return new PlatformError(msg, 'daemon-connection-lost', text);
  if (/not found|no domain with matching|failed to get (domain|vol|pool|network)|no storage vol/i.test(text)) {
    return new NotFound(msg);
  }
  if (/authentication (failed|unavailable)|permission denied|access denied/i.test(text)) return new AuthFailed(msg);
  if (
    /already (running|exists|active|in use)|is not running|domain is not running|not active|operation is not valid|in use by/i.test(
      text,
    )
  ) {
    return new Conflict(msg);
  }
  if (/unsupported configuration|not supported|this function is not supported/i.test(text)) return new Unsupported(msg);
  // The host could not be reached at all (remote URI): a lost site, not a platform answer.
  if (/network is unreachable|no route to host|connection (refused|timed out)|could not resolve hostname/i.test(text))
    return new PlatformError(msg, 'unreachable', text);
  // A full pool is worth naming for the evidence (OPS-01); the contract has no narrower type for it.
  if (/no space left on device|not enough space|insufficient space/i.test(text))
    return new PlatformError(msg, 'no-space', text);
  if (/failed to connect to the hypervisor/i.test(text)) return new PlatformError(msg, 'daemon-unreachable', text);
  const code = /^([a-z][a-z ]+?):/i.exec(text)?.[1] ?? 'virsh-error';
  return new PlatformError(msg, code, text);
}

/**
 * The connection has gone before the command was sent (daemon stopped or restarted since the session's last
 * command): virsh's shell says so instead of running it. A new process then makes a new connection, as the
 * one-shot call always did, so the answer is the one a fresh connection gives.
 */
const staleConnection =
  /failed to reconnect to the hypervisor|failed to connect to the hypervisor|client socket is closed|no valid connection/i;

/**
 * Runs virsh commands on a few long-lived virsh shells per connection (explicit URI) and records every call
 * in the transcript: the command, its output, whether it failed, and its duration, as one process per call did.
 */
export class Virsh {
  private readonly pool: VirshPool;

  constructor(private readonly opts: VirshOptions) {
    this.pool = new VirshPool([...(opts.argv ?? ['virsh']), '-c', opts.uri, '-q']);
  }

  get uri(): string {
    return this.opts.uri;
  }

  private get local(): boolean {
    return !/^[a-z+]+:\/\/[^/]/.test(this.opts.uri);
  }

  private get timeoutMs(): number {
    return this.opts.commandTimeoutMs ?? 120_000;
  }

  async run(args: string[]): Promise<string> {
    // Another uid needs its own process; an argument the shell cannot carry goes as argv. A remote host
    // (qemu+ssh) keeps a connection per call: a lost site must fail each call at connect, in bounded time.
    if (this.opts.uid !== undefined || !this.local || needsOneShot(args)) return this.oneShot(args);
    const start = performance.now();
    const session = await this.pool.acquire();
    let ans: SessionAnswer;
    try {
      ans = await session.exec(args, this.timeoutMs);
    } catch (e) {
      if (!(e instanceof SessionTimeout)) {
        // The shell itself ended mid-command (not a platform answer); the command may have run, so it is not repeated.
        const why = e instanceof Error ? e.message : String(e);
        this.record(args, start, { ok: false, response: why, error: `virsh session ended: ${why}` });
        throw new PlatformError(
          `virsh ${args[0]} failed: the virsh session ended (${why})`,
          'virsh-session-ended',
          why,
        );
      }
      this.record(args, start, { ok: false, response: '', error: 'command timed out' });
      throw this.timedOut(args);
    } finally {
      this.pool.release(session);
    }
    if (!ans.ok && staleConnection.test(ans.stderr)) {
      session.close();
      this.record(args, start, {
        ok: false,
        response: ans.stderr,
        error: `stale connection, not sent; made again on a new connection: ${ans.stderr}`,
      });
      return this.oneShot(args);
    }
    this.record(args, start, {
      ok: ans.ok,
      response: ans.ok ? ans.stdout : ans.stderr || ans.stdout,
      ...(ans.ok ? {} : { error: ans.stderr }),
    });
    if (!ans.ok) throw mapVirshError(args, ans.stderr || ans.stdout);
    return ans.stdout;
  }

  /** Ends the shells (the driver is closed); a later call opens new ones. */
  close(): void {
    this.pool.close();
  }

  private record(args: string[], start: number, r: { ok: boolean; response: string; error?: string }): void {
    this.opts.transcript.record({
      kind: 'command',
      request: ['virsh', '-c', this.opts.uri, ...args].join(' '),
      response: r.response,
      ok: r.ok,
      durationMs: performance.now() - start,
      taskId: null,
      error: r.error,
    });
  }

  private timedOut(args: string[]): PlatformError {
    return new PlatformError(`virsh ${args[0]} did not answer within ${this.timeoutMs} ms`, 'timeout', '');
  }

  /** One process for one command (stdin closed). */
  private async oneShot(args: string[]): Promise<string> {
    const start = performance.now();
    const [bin, ...pre] = this.opts.argv ?? ['virsh'];
    const res = await execa(bin as string, [...pre, '-c', this.opts.uri, '-q', ...args], {
      reject: false,
      stdin: 'ignore',
      timeout: this.timeoutMs,
      env: { LC_ALL: 'C' },
      ...(this.opts.uid === undefined ? {} : { uid: this.opts.uid, gid: this.opts.uid }),
    });
    const ok = res.exitCode === 0 && !res.timedOut;
    this.record(args, start, {
      ok,
      response: ok ? res.stdout : res.stderr || res.stdout,
      error: ok ? undefined : res.timedOut ? 'command timed out' : res.stderr,
    });
    if (res.timedOut) throw this.timedOut(args);
    if (res.exitCode !== 0) throw mapVirshError(args, res.stderr || res.stdout);
    return res.stdout;
  }
}
