/** --json prints only JSON on stdout (diagnostics go to stderr), for the commands that need no platform. */
import { mkdtemp } from 'node:fs/promises';
import { expect, it } from 'vitest';
import { requirements } from '../requirements/registry.js';
import { runCli } from './run-cli.js';

it('requirements --json and --coverage --json', async () => {
  const list = await runCli('requirements', '--json');
  expect(list.exitCode).toBe(0);
  expect((JSON.parse(list.stdout) as { id: string }[]).map((r) => r.id)).toEqual(requirements.map((r) => r.id));
  const coverage = await runCli('requirements', '--coverage', '--json');
  expect(Object.keys(JSON.parse(coverage.stdout) as object).length).toBeGreaterThan(0);
});

it('verify --json: a folder without a manifest is not intact (exit 1), said as JSON', async () => {
  const dir = await mkdtemp('/tmp/vmconform-verify-json-');
  const r = await runCli('verify', dir, '--json');
  expect(r.exitCode).toBe(1);
  expect(JSON.parse(r.stdout)).toMatchObject({ runDir: dir, sealed: false, intact: false });
});

it('lab status: a line per lab by default, JSON with --json', async () => {
  const text = await runCli('lab', 'status', 'nats');
  expect(text.exitCode).toBe(0);
  expect(text.stdout).toMatch(/^nats: /);
  const json = await runCli('lab', 'status', 'nats', '--json');
  expect(Object.keys(JSON.parse(json.stdout) as object)).toEqual(['nats']);
});
