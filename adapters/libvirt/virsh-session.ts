/**
 * One long-lived `virsh` shell: commands go to its stdin one at a time, so a call costs a round trip on an
 * open connection instead of a new process and a new connection (under load the process starts were a
 * quarter of the machine). Each command is followed by two markers, `echo --err` (virsh prints it as an
 * `error:` line on stderr) and `echo` (stdout), so both streams of that command end at a known point.
 *
 * virsh's shell goes on after a failed command and keeps no status, so the status is read from stderr:
 * virsh reports every failed command with an `error:` line (vshReportError), the same text the one-shot
 * mode prints before it exits non-zero.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';

export interface SessionAnswer {
  stdout: string;
  stderr: string;
  ok: boolean;
}

/**
 * Notices virsh prints as errors that are not a command's answer: the disconnect callback's, printed when
 * the daemon went away (between commands), and the reconnect notice before the next command runs.
 */
const notice = /^error: (Reconnected to the hypervisor|Disconnected from \S+ due to .*)$/;
const disconnected = /^error: Disconnected from \S+ due to /;
const reconnected = /^error: Reconnected to the hypervisor$/;

/** Quoted for virsh's own parser: inside '...' nothing is special; a ' is written '\'' as in sh. */
export function shellLine(args: string[]): string {
  return args.map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
}

/**
 * Arguments the shell cannot carry unchanged: a newline ends the line, readline acts on control keys, and
 * in the C locale it may take a byte above 0x7f for a meta key. Only printable ASCII goes through the shell.
 */
export function needsOneShot(args: string[]): boolean {
  return args.some((a) => /[^\x20-\x7e]/.test(a));
}

const stripFinalNewline = (s: string) => (s.endsWith('\n') ? s.slice(0, -1) : s);

export class VirshSession {
  private readonly proc: ChildProcessWithoutNullStreams;
  private out = '';
  private err = '';
  private exited = false;
  private exitNote = '';
  private readonly tag = randomBytes(6).toString('hex');
  private seq = 0;
  /** Wakes the command in flight when either stream grew or the process ended. */
  private notify: (() => void) | undefined;

  constructor(argv: readonly string[], env: NodeJS.ProcessEnv) {
    const [bin, ...rest] = argv as [string, ...string[]];
    this.proc = spawn(bin, rest, {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: {
        ...env,
        LC_ALL: 'C',
        // readline echoes each line read from a pipe: one screen line wide enough that it never wraps,
        // no user key bindings, no terminal escapes.
        COLUMNS: '1000000',
        INPUTRC: '/dev/null',
        TERM: 'dumb',
      },
    });
    this.proc.stdout.setEncoding('utf8').on('data', (d: string) => {
      this.out += d;
      this.notify?.();
    });
    this.proc.stderr.setEncoding('utf8').on('data', (d: string) => {
      this.err += d;
      this.notify?.();
    });
    this.proc.stdin.on('error', () => undefined);
    this.proc.on('error', (e) => {
      this.exited = true;
      this.exitNote = e.message;
      this.notify?.();
    });
    this.proc.on('exit', (code, signal) => {
      this.exited = true;
      this.exitNote ||= `virsh exited (${signal ?? `code ${code}`})`;
      this.notify?.();
    });
    // An idle session never keeps the process alive; a command in flight holds its own timer.
    this.proc.unref();
    for (const s of [this.proc.stdin, this.proc.stdout, this.proc.stderr]) (s as { unref?: () => void }).unref?.();
  }

  get alive(): boolean {
    return !this.exited;
  }

  /** Runs one command; rejects only when the shell itself went away or did not answer in time. */
  async exec(args: string[], timeoutMs: number): Promise<SessionAnswer> {
    // What the shell printed while it started (its first connection) belongs to no command.
    this.ready ??= this.frame(undefined, timeoutMs);
    await this.ready;
    const line = shellLine(args);
    const { out, err, errMark } = await this.frame(line, timeoutMs);
    // out is: prompt and echoed command line, the command's output, then the echoed marker lines.
    const echoed = `virsh # ${line}\n`;
    const from = out.indexOf(echoed);
    const body = from >= 0 ? out.slice(from + echoed.length) : out.slice(out.indexOf('\n') + 1);
    const to = body.lastIndexOf(`virsh # echo --err ${errMark}\n`);
    const stdout = stripFinalNewline(to >= 0 ? body.slice(0, to) : body);
    // A disconnect with no reconnect after it happened during this command: that is its answer, not a notice.
    const lines = err.split('\n');
    const lostAt = lines.findLastIndex((l) => disconnected.test(l));
    const lost = lostAt >= 0 && !lines.slice(lostAt).some((l) => reconnected.test(l));
    const errLines = lines.filter((l, i) => !notice.test(l) || (lost && i === lostAt));
    const stderr = stripFinalNewline(errLines.join('\n'));
    return { stdout, stderr, ok: !errLines.some((l) => l.startsWith('error:')) };
  }

  private ready: Promise<unknown> | undefined;

  /** Sends the line (if any) and the two markers; resolves with both streams up to the markers. */
  private async frame(line: string | undefined, timeoutMs: number) {
    if (this.exited) throw new Error(this.exitNote || 'virsh session ended');
    const n = ++this.seq;
    const errMark = `@@vmc-${this.tag}-${n}-e@@`;
    const outMark = `@@vmc-${this.tag}-${n}-o@@`;
    const errEnd = `error: ${errMark}\n`;
    const outEnd = `virsh # echo ${outMark}\n${outMark}`;
    this.proc.stdin.write(`${line === undefined ? '' : `${line}\n`}echo --err ${errMark}\necho ${outMark}\n`);
    let timer: NodeJS.Timeout | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        timer = setTimeout(() => {
          this.close();
          reject(new SessionTimeout());
        }, timeoutMs);
        const check = () => {
          if (this.out.includes(outEnd) && this.err.includes(errEnd)) resolve();
          else if (this.exited) reject(new Error(this.exitNote || 'virsh session ended'));
        };
        this.notify = check;
        check();
      });
    } finally {
      clearTimeout(timer);
      this.notify = undefined;
    }
    const outAt = this.out.indexOf(outEnd);
    const out = this.out.slice(0, outAt);
    this.out = this.out.slice(outAt + outEnd.length);
    const errAt = this.err.indexOf(errEnd);
    const err = this.err.slice(0, errAt);
    this.err = this.err.slice(errAt + errEnd.length);
    return { out, err, errMark };
  }

  close(): void {
    if (this.exited) return;
    this.exited = true;
    this.exitNote = 'virsh session closed';
    this.proc.stdin.end();
    this.proc.kill('SIGKILL');
  }
}

export class SessionTimeout extends Error {}

/**
 * A few sessions per connection: a command waits for an idle one, so calls made at once (several VMs in
 * flight) do not queue behind one slow command (an upload), and each session runs one command at a time.
 */
export class VirshPool {
  private readonly idle: VirshSession[] = [];
  private open = 0;
  private readonly waiting: ((s: VirshSession) => void)[] = [];
  private closed = false;

  constructor(
    private readonly argv: readonly string[],
    private readonly max = 4,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {}

  async acquire(): Promise<VirshSession> {
    this.closed = false;
    for (;;) {
      const s = this.idle.pop();
      if (!s) break;
      if (s.alive) return s;
      this.open -= 1;
    }
    if (this.open < this.max) {
      this.open += 1;
      return new VirshSession(this.argv, this.env);
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  release(s: VirshSession): void {
    if (this.closed) s.close();
    if (!s.alive) {
      this.open -= 1;
      // A waiter gets a fresh session in place of the one that ended.
      const w = this.waiting.shift();
      if (w) {
        this.open += 1;
        w(new VirshSession(this.argv, this.env));
      }
      return;
    }
    const w = this.waiting.shift();
    if (w) w(s);
    else this.idle.push(s);
  }

  /** Ends the idle sessions now and each busy one when its command returns; a later call opens anew. */
  close(): void {
    this.closed = true;
    for (const s of this.idle.splice(0)) {
      s.close();
      this.open -= 1;
    }
  }
}
