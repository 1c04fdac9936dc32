/** Runs vitest in a child process and reads its JSON report: the single source of test counts. */
import { mkdir, readFile, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

export const repoRoot = fileURLToPath(new URL('../', import.meta.url));

export interface VitestCounts {
  passed: number;
  failed: number;
  skipped: number;
  total: number;
  exitCode: number;
}

interface VitestJson {
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  numTodoTests: number;
  numTotalTests: number;
  testResults: { name: string; status: string; message?: string; assertionResults: unknown[] }[];
}

export async function runVitest(args: string[], env: Record<string, string>, jsonPath: string): Promise<VitestCounts> {
  await mkdir(dirname(jsonPath), { recursive: true });
  await rm(jsonPath, { force: true });
  const child = execa(
    join(repoRoot, 'node_modules/.bin/vitest'),
    [
      'run',
      ...args,
      '--reporter=default',
      `--reporter=${join(repoRoot, 'reports/reporter.ts')}`,
      '--reporter=json',
      `--outputFile.json=${jsonPath}`,
    ],
    {
      cwd: repoRoot,
      env: { ...env, FORCE_COLOR: process.stdout.isTTY ? '1' : '0' },
      stdin: 'ignore',
      stdout: 'inherit',
      stderr: 'inherit',
      reject: false,
    },
  );
  const forward = (sig: NodeJS.Signals) => child.kill(sig);
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  const res = await child;
  process.off('SIGINT', forward);
  process.off('SIGTERM', forward);
  const json = await readFile(jsonPath, 'utf8').then(
    (s) => JSON.parse(s) as VitestJson,
    () => undefined,
  );
  if (!json) return { passed: 0, failed: 0, skipped: 0, total: 0, exitCode: res.exitCode ?? 1 };
  // A file that failed to load has no tests in the counts; count it as a failure so it is never hidden.
  const brokenFiles = json.testResults.filter((f) => f.status === 'failed' && f.assertionResults.length === 0).length;
  return {
    passed: json.numPassedTests,
    failed: json.numFailedTests + brokenFiles,
    skipped: json.numPendingTests + json.numTodoTests,
    total: json.numTotalTests,
    exitCode: res.exitCode ?? 1,
  };
}
