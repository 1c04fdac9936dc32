/**
 * The committed files generated from the registry and the suites: the human-readable catalogue
 * (catalogue.md) and which tests evidence which requirement (coverage.json). The registry is the source of
 * truth; `vmconform requirements --write` rewrites these files and generated.test.ts fails when a committed
 * one differs from what this produces.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildCoverage, readSuiteTests } from './coverage.js';
import { proofNeeds } from './proof.js';
import { dimensions, type Requirement, requirements } from './registry.js';

/** How to bring the committed files back in step, for failure messages. */
export const regenerateCommand = 'node scripts/bin.mjs requirements --write';

const cell = (text: string) => text.replaceAll('|', '\\|');

/** The catalogue as Markdown: a legend, then one table per ADR section in registry order. */
export function renderCatalogue(registry: readonly Requirement[]): string {
  const lines = [
    '# Requirement catalogue',
    '',
    `Generated from \`requirements/registry.ts\` by \`${regenerateCommand}\`; do not edit by hand.`,
    '',
    `Dimensions: ${dimensions.map((d) => `\`${d.id}\` (${d.title})`).join(', ')}.`,
    '',
    'Verification: **auto** = a suite proves it; **lab** = auto, but needs lab prerequisites and reports',
    '`prereq-missing` without them; **manual** = an assessor’s signed statement from reports/assessments/.',
    '**+ assessment** = an assessment file may also supply the verdict.',
    '',
    'Proof: what a pass must be proven by (requirements/proof.ts): **api** read back, **guest** observed inside',
    'the guest, **event** on the platform’s event stream, **host** host-side state; a pass without one is `partial`.',
  ];
  const sections = [...new Set(registry.map((r) => r.adrSection))];
  for (const section of sections) {
    lines.push('', `## ${section}`, '');
    lines.push('| ID | level | dim | verification | proof | suite | title | what the evidence must show |');
    lines.push('|---|---|---|---|---|---|---|---|');
    for (const r of registry.filter((x) => x.adrSection === section)) {
      const verification = r.manual && r.verification !== 'manual' ? `${r.verification} + assessment` : r.verification;
      const suite = r.suite === null ? '—' : `\`${r.suite}\``;
      const proof = proofNeeds[r.id as keyof typeof proofNeeds]?.join(', ') || '—';
      lines.push(
        `| ${r.id} | ${r.level} | ${r.dimension} | ${verification} | ${proof} | ${suite} | ${cell(r.title)} | ${cell(r.evidence)} |`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

export interface GeneratedFile {
  /** Repository-relative path. */
  path: string;
  content: string;
}

/** Every generated file with the content the registry and the suites under `root` give it now. */
export function generatedFiles(root: string): GeneratedFile[] {
  return [
    { path: 'requirements/catalogue.md', content: renderCatalogue(requirements) },
    {
      path: 'requirements/coverage.json',
      content: `${JSON.stringify(buildCoverage(requirements, readSuiteTests(root)), null, 2)}\n`,
    },
  ];
}

/** Rewrites the generated files under the repository root; returns the paths that changed. */
export function writeGenerated(root: string): string[] {
  const changed: string[] = [];
  for (const f of generatedFiles(root)) {
    const path = join(root, f.path);
    let old: string | undefined;
    try {
      old = readFileSync(path, 'utf8');
    } catch {
      old = undefined;
    }
    if (old === f.content) continue;
    writeFileSync(path, f.content);
    changed.push(f.path);
  }
  return changed;
}
