/**
 * Harness-side disk files: qemu-img conversions and checksums of files the harness holds (exports,
 * backups). Every qemu-img call is recorded in the transcript like a platform call.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { execa } from 'execa';
import { PlatformError } from '../../evidence/errors.js';
import type { Transcript } from '../../evidence/transcript.js';

export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** `qemu-img info --output=json`: the fields the harness uses. */
export function parseQemuImgInfo(json: string): { format: string; virtualBytes: number; backing?: string } {
  const info = JSON.parse(json) as { format?: string; 'virtual-size'?: number; 'backing-filename'?: string };
  if (!info.format || typeof info['virtual-size'] !== 'number')
    throw new PlatformError('qemu-img info gave no format or virtual size', 'bad-output', json.slice(0, 200));
  return {
    format: info.format,
    virtualBytes: info['virtual-size'],
    ...(info['backing-filename'] ? { backing: info['backing-filename'] } : {}),
  };
}

export class QemuImg {
  constructor(private readonly transcript: Transcript) {}

  async run(args: string[]): Promise<string> {
    const t0 = performance.now();
    const res = await execa('qemu-img', args, { reject: false, stdin: 'ignore', env: { LC_ALL: 'C' } });
    const ok = res.exitCode === 0;
    this.transcript.record({
      kind: 'command',
      request: ['qemu-img', ...args].join(' '),
      response: ok ? res.stdout : res.stderr,
      ok,
      durationMs: performance.now() - t0,
      taskId: null,
      ...(ok ? {} : { error: res.stderr }),
    });
    if (!ok) throw new PlatformError(`qemu-img ${args[0]} failed: ${res.stderr.trim()}`, 'qemu-img', res.stderr);
    return res.stdout;
  }

  async info(path: string) {
    return parseQemuImgInfo(await this.run(['info', '--output=json', path]));
  }

  /** Converts (and flattens any backing chain) into a standalone file of the wanted format. */
  async convert(src: string, srcFormat: string, dest: string, destFormat: 'raw' | 'qcow2'): Promise<void> {
    await this.run(['convert', '-f', srcFormat, '-O', destFormat, src, dest]);
  }

  /** Points a downloaded overlay at a local copy of its backing file (metadata only, no data moved). */
  async rebase(path: string, backing: string, backingFormat: string): Promise<void> {
    await this.run(['rebase', '-u', '-f', 'qcow2', '-b', backing, '-F', backingFormat, path]);
  }
}
