/**
 * vitest reporter: turns each conformance test's meta into results (written after every test, so
 * an interrupted run keeps its evidence) and prints a progress line per requirement.
 */
import { relative } from 'node:path';
import type { Reporter, TestCase, TestModule } from 'vitest/node';
import { ResultsWriter } from '../evidence/results.js';
import { tallyLabel, tallyText } from '../evidence/tally.js';
import { proofNeeds } from '../requirements/proof.js';
import { Progress, progressEnv } from './progress.js';

const icon: Record<string, string> = {
  pass: 'PASS',
  flaky: 'FLKY',
  fail: 'FAIL',
  error: 'ERR ',
  unsupported: 'UNSP',
  partial: 'PART',
  'not-implemented': 'NIMP',
  'prereq-missing': 'PREQ',
  simulated: 'SIM ',
  manual: 'MAN ',
  'container-only': 'CONT',
};

export default class EvidenceReporter implements Reporter {
  private writer: ResultsWriter | undefined;
  private pending: Promise<unknown> = Promise.resolve();
  /** An evaluation's progress (n/total, time left): its lines go to stderr, prefixed by platform. */
  private readonly progress = Progress.fromEnv(process.env[progressEnv]);

  onInit(): void {
    const out = process.env.VMCONFORM_OUT;
    const runId = process.env.VMCONFORM_RUN_ID;
    const platform = process.env.VMCONFORM_PLATFORM;
    const selected = process.env.VMCONFORM_SELECTED?.split(',').filter(Boolean);
    if (out && runId && platform) this.writer = new ResultsWriter(out, runId, platform, selected, proofNeeds);
    // A later pass of the same run (the quiet window) adds to the bundle the earlier pass wrote.
    if (this.writer && process.env.VMCONFORM_CONTINUE === '1') this.writer.resume();
  }

  onTestCaseResult(testCase: TestCase): void {
    const ev = testCase.meta().vmconform;
    if (!ev) return;
    const state = testCase.result().state;
    const secs = (ev.durationMs / 1000).toFixed(1);
    const line = `${icon[tallyLabel({ ...ev.outcome, evidence: ev.evidence })] ?? ev.outcome.verdict} ${ev.requirements.join(',').padEnd(14)} ${ev.title} (${secs} s)`;
    const reason = ev.outcome.reason ? `\n       ${ev.outcome.reason.slice(0, 300)}` : '';
    if (this.progress) process.stderr.write(`[vmconform] ${this.progress.line(ev.requirements, line)}${reason}\n`);
    else process.stdout.write(`  ${line}${reason}\n`);
    if (!this.writer) return;
    this.writer.add({
      ...ev,
      file: relative(process.cwd(), testCase.module.moduleId),
      state: state === 'pending' ? 'skipped' : state,
    });
    const w = this.writer;
    this.pending = this.pending.then(() => w.write(false));
  }

  async onTestRunEnd(
    modules: ReadonlyArray<TestModule>,
    errors: ReadonlyArray<unknown>,
    reason: string,
  ): Promise<void> {
    await this.pending;
    if (!this.writer) return;
    const results = await this.writer.write(reason === 'passed' || reason === 'failed');
    process.stdout.write(
      `\nvmconform on ${results.platform}: ${tallyText(results.requirements)}\nresults: ${this.writer.path}${errors.length ? ` (${errors.length} run errors)` : ''}${modules.length === 0 ? ' (no test files ran)' : ''}\n`,
    );
  }
}
