/** Runs vitest in a child process and reads its JSON report: the single source of test counts. */
import { mkdir, readFile, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { waitFor } from '../host/wait.js';
import { colourEnv } from './colour-env.js';
import { signalExitCode } from './exit-codes.js';

export const repoRoot = fileURLToPath(new URL('../', import.meta.url));

export interface VitestCounts {
  passed: number;
  failed: number;
  skipped: number;
  total: number;
  exitCode: number;
  interrupted: boolean;
  /** The first signal that interrupted the run (the exit code says which). */
  signal?: 'SIGINT' | 'SIGTERM';
}

interface VitestJson {
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  numTodoTests: number;
  numTotalTests: number;
  testResults: {
    name: string;
    status: string;
    message?: string;
    assertionResults: { fullName: string; status: string }[];
  }[];
}

/**
 * First Ctrl-C/SIGTERM: vitest and its workers are terminated (results written so far stay, marked
 * incomplete); the caller then cleans up. Second: exit at once, after `onSecondInterrupt`.
 */
export async function runVitest(
  args: string[],
  env: Record<string, string>,
  jsonPath: string,
  opts: {
    onSecondInterrupt?: () => void;
    /** vitest's -t: tests it filters out are not counted at all (they were never asked for). */
    namePattern?: string;
    /** vitest's own output goes to this file (appended), not the terminal: runs at once would interleave there. */
    log?: string;
  } = {},
): Promise<VitestCounts> {
  await mkdir(dirname(jsonPath), { recursive: true });
  await rm(jsonPath, { force: true });
  const child = execa(
    join(repoRoot, 'node_modules/.bin/vitest'),
    [
      'run',
      ...args,
      ...(opts.namePattern ? ['-t', opts.namePattern] : []),
      '--reporter=default',
      `--reporter=${join(repoRoot, 'run/reporter.ts')}`,
      '--reporter=json',
      `--outputFile.json=${jsonPath}`,
    ],
    {
      cwd: repoRoot,
      // Its output goes to our stderr, so that is the terminal that decides colour.
      env: { ...env, ...colourEnv(process.env, !!process.stderr.isTTY) },
      stdin: 'ignore',
      // vitest's output is progress: our stderr (or the platform's log), so stdout carries only the command's data.
      stdout: opts.log ? { file: opts.log, append: true } : 2,
      stderr: 'inherit',
      reject: false,
      // Own process group: an interrupt reaches vitest's workers too, and cleanup can wait for all of them.
      detached: true,
    },
  );
  let interrupted = false;
  let signal: 'SIGINT' | 'SIGTERM' = 'SIGINT';
  const group = (sig: NodeJS.Signals | 0) => {
    try {
      if (child.pid) process.kill(-child.pid, sig);
      return true;
    } catch {
      return false;
    }
  };
  const forward = (sig: NodeJS.Signals) => {
    if (interrupted) {
      opts.onSecondInterrupt?.();
      group('SIGKILL');
      process.exit(signalExitCode(signal));
    }
    interrupted = true;
    signal = sig === 'SIGTERM' ? 'SIGTERM' : 'SIGINT';
    // vitest's workers carry on through SIGINT (a run then finishes every test); SIGTERM stops them now,
    // and the caller's cleanup removes what the run created.
    group('SIGTERM');
  };
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  const res = await child;
  // Workers can outlive vitest's main process; cleanup must not race a test still creating VMs.
  await waitFor(
    'vitest workers to exit',
    { deadlineMs: 20_000, intervalMs: 100, backoff: 1, maxIntervalMs: 100 },
    async () => (group(0) ? undefined : true),
  ).catch(() => group('SIGKILL'));
  process.off('SIGINT', forward);
  process.off('SIGTERM', forward);
  const json = await readFile(jsonPath, 'utf8').then(
    (s) => JSON.parse(s) as VitestJson,
    () => undefined,
  );
  const stop = interrupted ? { signal } : {};
  if (!json) return { passed: 0, failed: 0, skipped: 0, total: 0, exitCode: res.exitCode ?? 1, interrupted, ...stop };
  // A file that failed to load has no tests in the counts; count it as a failure so it is never hidden.
  const brokenFiles = json.testResults.filter((f) => f.status === 'failed' && f.assertionResults.length === 0).length;
  // vitest counts a test its -t filtered out as skipped; here it was not selected, so it is no result at all.
  const re = opts.namePattern ? new RegExp(opts.namePattern) : undefined;
  const deselected = re
    ? json.testResults.flatMap((f) => f.assertionResults).filter((a) => a.status === 'skipped' && !re.test(a.fullName))
        .length
    : 0;
  return {
    passed: json.numPassedTests,
    failed: json.numFailedTests + brokenFiles,
    skipped: json.numPendingTests + json.numTodoTests - deselected,
    total: json.numTotalTests - deselected,
    exitCode: res.exitCode ?? 1,
    interrupted,
    ...stop,
  };
}
