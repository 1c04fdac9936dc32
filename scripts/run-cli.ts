/** Runs a vmconform command in this process, as cli.ts does, for tests: its exit code and what it printed. */
import { exitCodeFor } from './exit-codes.js';
import { buildProgram } from './program.js';

export async function runCli(...args: string[]): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  const out = { stdout: '', stderr: '' };
  const writes = { stdout: process.stdout.write, stderr: process.stderr.write };
  const capture = (k: 'stdout' | 'stderr') =>
    ((chunk: string | Uint8Array) => {
      out[k] += chunk.toString();
      return true;
    }) as typeof process.stdout.write;
  process.stdout.write = capture('stdout');
  process.stderr.write = capture('stderr');
  const before = process.exitCode;
  process.exitCode = undefined;
  let exitCode: number;
  try {
    await buildProgram().parseAsync(['node', 'vmconform', ...args]);
    exitCode = Number(process.exitCode ?? 0);
  } catch (e) {
    exitCode = exitCodeFor(e);
  } finally {
    process.stdout.write = writes.stdout;
    process.stderr.write = writes.stderr;
    process.exitCode = before;
  }
  return { exitCode, ...out };
}
