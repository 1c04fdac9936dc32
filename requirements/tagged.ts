/**
 * The suite files that hold a test for each requirement ID, from the committed coverage.json: generated
 * from the suites' source and kept in step by generated.test.ts, so a run can plan without parsing them.
 */
import { readFileSync } from 'node:fs';
import type { Coverage } from './coverage.js';

export function taggedFiles(path = new URL('./coverage.json', import.meta.url)): Map<string, string[]> {
  const coverage = JSON.parse(readFileSync(path, 'utf8')) as Coverage;
  const ids = new Map<string, string[]>();
  for (const [id, tests] of Object.entries(coverage))
    if (tests.length > 0) ids.set(id, [...new Set(tests.map((t) => t.file))]);
  return ids;
}
