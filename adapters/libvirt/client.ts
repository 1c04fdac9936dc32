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

export interface VirshOptions {
  uri: string;
  transcript: Transcript;
  /** Backstop per command; waits for state are done by the adapter under wait policies. */
  commandTimeoutMs?: number;
  /** Run virsh as this uid: used to prove that wrong credentials give a typed error (AUT-01). */
  uid?: number;
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

/** Runs virsh non-interactively (stdin closed, explicit URI) and records every call in the transcript. */
export class Virsh {
  constructor(private readonly opts: VirshOptions) {}

  get uri(): string {
    return this.opts.uri;
  }

  async run(args: string[]): Promise<string> {
    const start = performance.now();
    const res = await execa('virsh', ['-c', this.opts.uri, '-q', ...args], {
      reject: false,
      stdin: 'ignore',
      timeout: this.opts.commandTimeoutMs ?? 120_000,
      env: { LC_ALL: 'C' },
      ...(this.opts.uid === undefined ? {} : { uid: this.opts.uid, gid: this.opts.uid }),
    });
    const durationMs = performance.now() - start;
    const ok = res.exitCode === 0 && !res.timedOut;
    this.opts.transcript.record({
      kind: 'command',
      request: ['virsh', '-c', this.opts.uri, ...args].join(' '),
      response: ok ? res.stdout : res.stderr || res.stdout,
      ok,
      durationMs,
      taskId: null,
      error: ok ? undefined : res.timedOut ? 'command timed out' : res.stderr,
    });
    if (res.timedOut) {
      throw new PlatformError(
        `virsh ${args[0]} did not answer within ${this.opts.commandTimeoutMs ?? 120_000} ms`,
        'timeout',
        '',
      );
    }
    if (res.exitCode !== 0) throw mapVirshError(args, res.stderr || res.stdout);
    return res.stdout;
  }
}
