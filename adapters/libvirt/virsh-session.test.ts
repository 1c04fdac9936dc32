import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NotFound, PlatformError } from '../../evidence/errors.js';
import { Transcript } from '../../evidence/transcript.js';
import { Virsh } from './client.js';
import { shellLine } from './virsh-session.js';

/**
 * A fake virsh that behaves as virsh 9's shell does when it reads a pipe: readline echoes the prompt and
 * the line on stdout, `echo --err` prints an error: line, a failed command prints error: lines and the
 * shell goes on. Given a command on argv it runs that one and exits non-zero on failure (one-shot mode).
 */
const fake = String.raw`
import { createInterface } from 'node:readline';
const parse = (line) => {
  const out = []; let cur = null; let q = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (!q && (ch === ' ')) { if (cur !== null) out.push(cur); cur = null; continue; }
    cur ??= '';
    if (ch === "'") { q = !q; continue; }
    if (!q && ch === '\\') { cur += line[++i]; continue; }
    cur += ch;
  }
  if (cur !== null) out.push(cur);
  return out;
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function run([cmd, ...a]) {
  switch (cmd) {
    case 'echo':
      if (a[0] === '--err') { process.stderr.write('error: ' + a[1] + '\n'); return true; }
      process.stdout.write(a.join(' ')); return true;
    case 'domstate':
      if (a[0] === 'gone') {
        process.stderr.write("error: failed to get domain 'gone'\nerror: Domain not found: no domain with matching name 'gone'\n");
        return false;
      }
      process.stdout.write('running\n\n'); return true;
    case 'args': process.stdout.write(JSON.stringify(a) + '\n'); return true;
    case 'pid': process.stdout.write(process.pid + '\n'); return true;
    case 'sleep': await sleep(Number(a[0])); process.stdout.write('slept\n'); return true;
    case 'reconnect':
      process.stderr.write('error: Disconnected from test:///default due to end of file\nerror: Reconnected to the hypervisor\n'); process.stdout.write('fresh\n'); return true;
    case 'stale':
      if (process.argv.length > 4 + 1) { process.stdout.write('answered on a new connection\n'); return true; }
      process.stderr.write('error: Failed to reconnect to the hypervisor\nerror: no valid connection\n'); return false;
    case 'lost':
      process.stderr.write("error: Disconnected from test:///default due to end of file\nerror: failed to get domain 'x'\n"); return false;
    case 'warn': process.stderr.write('warning: something minor\n'); process.stdout.write('done\n'); return true;
    case 'die': process.exit(3);
    default: process.stderr.write('error: unknown command: ' + cmd + '\n'); return false;
  }
}
const rest = process.argv.slice(2);
const q = rest.indexOf('-q');
if (rest.length > q + 1) process.exit((await run(rest.slice(q + 1))) ? 0 : 1);
process.stderr.write('error: noise printed at start-up\n');
const rl = createInterface({ input: process.stdin, terminal: false });
process.stdout.write('virsh # ');
for await (const line of rl) {
  process.stdout.write(line + '\n');
  await run(parse(line));
  process.stdout.write('virsh # ');
}
`;

let dir: string;
let script: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fake-virsh-'));
  script = join(dir, 'virsh.mjs');
  await writeFile(script, fake);
  await chmod(script, 0o755);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const make = (extra: { commandTimeoutMs?: number } = {}) => {
  const transcript = new Transcript();
  const virsh = new Virsh({ uri: 'test:///default', transcript, argv: [process.execPath, script], ...extra });
  return { virsh, transcript };
};

describe('persistent virsh session', () => {
  it('quotes every argument for virsh’s parser', () => {
    expect(shellLine(['define', "/tmp/a b/it's.xml", '--x'])).toBe(`'define' '/tmp/a b/it'\\''s.xml' '--x'`);
  });

  it('runs commands on one process, each with its own output, status and transcript entry', async () => {
    const { virsh, transcript } = make();
    const [a, b] = [await virsh.run(['pid']), await virsh.run(['pid'])];
    expect(a).toBe(b);
    expect(await virsh.run(['domstate', 'x'])).toBe('running\n');
    expect(await virsh.run(['args', "it's", 'a b', '--flag', ''])).toBe(JSON.stringify(["it's", 'a b', '--flag', '']));
    const err = await virsh.run(['domstate', 'gone']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotFound);
    expect((err as Error).message).toBe(
      "virsh domstate failed: failed to get domain 'gone' | Domain not found: no domain with matching name 'gone'",
    );
    // The shell goes on after a failure, and start-up noise belongs to no command.
    expect(await virsh.run(['domstate', 'y'])).toBe('running\n');
    const entries = transcript.since(0);
    expect(entries.map((e) => [e.request, e.ok])).toEqual([
      ['virsh -c test:///default pid', true],
      ['virsh -c test:///default pid', true],
      ['virsh -c test:///default domstate x', true],
      ["virsh -c test:///default args it's a b --flag ", true],
      ['virsh -c test:///default domstate gone', false],
      ['virsh -c test:///default domstate y', true],
    ]);
    expect(entries[4]?.error).toContain('Domain not found');
    expect(entries.every((e) => e.durationMs >= 0)).toBe(true);
    virsh.close();
  });

  it('counts a warning as success, and the disconnect and reconnect notices as no error', async () => {
    const { virsh, transcript } = make();
    expect(await virsh.run(['warn'])).toBe('done');
    expect(await virsh.run(['reconnect'])).toBe('fresh');
    expect(transcript.since(0).every((e) => e.ok)).toBe(true);
    virsh.close();
  });

  it('a lookup that failed because the daemon went away during it is a lost connection, not a missing domain', async () => {
    const { virsh } = make();
    const err = await virsh.run(['lost']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PlatformError);
    expect(err).not.toBeInstanceOf(NotFound);
    expect((err as Error).message).toContain('Disconnected from test:///default due to end of file');
    virsh.close();
  });

  it('makes a call the stale connection refused again on a new connection, and says so', async () => {
    const { virsh, transcript } = make();
    expect(await virsh.run(['stale'])).toBe('answered on a new connection');
    const [first, second] = transcript.since(0);
    expect(first?.ok).toBe(false);
    expect(first?.error).toContain('stale connection');
    expect(second?.ok).toBe(true);
    virsh.close();
  });

  it('runs calls made at once on separate sessions, each answered with its own output', async () => {
    const { virsh } = make();
    const outs = await Promise.all([
      virsh.run(['sleep', '300']),
      virsh.run(['args', 'one']),
      virsh.run(['args', 'two']),
      ...Array.from({ length: 6 }, (_, i) => virsh.run(['args', String(i)])),
    ]);
    expect(outs.slice(0, 3)).toEqual(['slept', '["one"]', '["two"]']);
    expect(outs.slice(3)).toEqual(Array.from({ length: 6 }, (_, i) => `["${i}"]`));
    virsh.close();
  });

  it('bounds a command that does not answer, and the next call gets a new session', async () => {
    const { virsh, transcript } = make({ commandTimeoutMs: 1500 });
    const before = await virsh.run(['pid']);
    const err = await virsh.run(['sleep', '5000']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PlatformError);
    expect((err as PlatformError).platformCode).toBe('timeout');
    expect(transcript.since(0).at(-1)?.error).toBe('command timed out');
    expect(await virsh.run(['pid'])).not.toBe(before);
    virsh.close();
  });

  it('fails a command whose shell ended mid-way without repeating it', async () => {
    const { virsh, transcript } = make();
    const err = await virsh.run(['die']).catch((e: unknown) => e);
    expect((err as PlatformError).platformCode).toBe('virsh-session-ended');
    expect(transcript.length).toBe(1);
    expect(await virsh.run(['domstate', 'x'])).toBe('running\n');
    virsh.close();
  });

  it('sends an argument the shell cannot carry (a newline, non-ASCII) as argv instead', async () => {
    const { virsh } = make();
    expect(await virsh.run(['args', 'a\nb'])).toBe(JSON.stringify(['a\nb']));
    expect(await virsh.run(['args', 'Ølen'])).toBe(JSON.stringify(['Ølen']));
    virsh.close();
  });
});
