import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type CatalogueRow, diffAgainstCatalogue, parseCatalogue } from './catalogue.js';
import {
  adrSections,
  dimensions,
  isRequirementId,
  type RequirementId,
  requirementById,
  requirements,
} from './registry.js';
import { fakeRequirement } from './testkit.js';

// The requirement catalogue and the ADR are documents outside the repository: the cross-checks run only
// where VMCONFORM_SHARED_DOCS names the folder holding them (CI sets it when they exist); otherwise they are
// skipped, visibly, and everything else runs.
const sharedDir = process.env.VMCONFORM_SHARED_DOCS;
const sharedDocs = ['requirements.md', 'adr/vm-platform-evaluation.md'];
const missingDocs = sharedDir ? sharedDocs.filter((d) => !existsSync(join(sharedDir, d))) : sharedDocs;
const absent = missingDocs.length > 0;
const skipNote = sharedDir
  ? `skipped: ${missingDocs.join(', ')} not in VMCONFORM_SHARED_DOCS (${sharedDir})`
  : 'skipped: VMCONFORM_SHARED_DOCS is not set (the folder holding requirements.md and adr/vm-platform-evaluation.md)';
if (absent) console.warn(`registry.test.ts: cross-checks against requirements.md and the ADR ${skipNote}`);

const readShared = (relative: string): string => {
  if (!sharedDir) throw new Error('VMCONFORM_SHARED_DOCS is not set');
  return readFileSync(join(sharedDir, relative), 'utf8');
};

const catalogue = (): CatalogueRow[] => parseCatalogue(readShared('requirements.md'));
const adrLines = (): string[] => readShared('adr/vm-platform-evaluation.md').split(/\r?\n/);

// Every heading of the ADR text, so a section ends where the next heading starts.
const adrHeadings: readonly string[] = [
  'Status',
  'Context',
  'Decision',
  ...adrSections,
  'Consequences',
  'Decision Outcome',
  'Related Decisions',
  'Audit',
];

/** Lines of the ADR grouped by the heading they sit under. */
function adrBySection(lines: string[]): Map<string, string[]> {
  const sections = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of lines) {
    if (adrHeadings.includes(line)) {
      current = [];
      sections.set(line, current);
    } else {
      current?.push(line);
    }
  }
  return sections;
}

const bulletText = (line: string): string => line.replace(/^- /, '');

const req = fakeRequirement;

describe('parseCatalogue', () => {
  const sample = [
    '# Requirement catalogue',
    'Prose mentioning AUT-01 is not a row.',
    '## Mandatory platform requirements',
    '| ID | level | dim | what the evidence must show |',
    '|---|---|---|---|',
    '| AUT-01 | MUST | lifecycle | runs with no TTY |',
    '| LC-07 | SHOULD | lifecycle | p95/median stays under the `ratio` |',
    '## Storage',
    '| ID | level | dim | what the evidence must show |',
    '|---|---|---|---|',
    '| STO-02 | SHOULD | netstore | export raw\\|qcow2 |',
  ].join('\n');

  it('returns the ID rows with section and line, skipping header and separator rows', () => {
    expect(parseCatalogue(sample)).toEqual([
      {
        id: 'AUT-01',
        level: 'MUST',
        dimension: 'lifecycle',
        evidence: 'runs with no TTY',
        section: 'Mandatory platform requirements',
        line: 6,
      },
      {
        id: 'LC-07',
        level: 'SHOULD',
        dimension: 'lifecycle',
        evidence: 'p95/median stays under the `ratio`',
        section: 'Mandatory platform requirements',
        line: 7,
      },
      {
        id: 'STO-02',
        level: 'SHOULD',
        dimension: 'netstore',
        evidence: 'export raw|qcow2',
        section: 'Storage',
        line: 11,
      },
    ]);
  });

  it('handles CRLF line endings', () => {
    expect(parseCatalogue(sample.replaceAll('\n', '\r\n')).map((r) => r.id)).toEqual(['AUT-01', 'LC-07', 'STO-02']);
  });

  it('throws naming the ID and line when a row has the wrong number of cells', () => {
    expect(() => parseCatalogue('| ID | level |\n| LC-01 | MUST | lifecycle |')).toThrow(
      /line 2: row LC-01 has 3 cells/,
    );
  });

  it('returns nothing for text without tables', () => {
    expect(parseCatalogue('# Title\n\nLC-01 MUST lifecycle text')).toEqual([]);
  });
});

describe('diffAgainstCatalogue', () => {
  const row = (id: string, extra: Partial<CatalogueRow> = {}): CatalogueRow => ({
    id,
    level: 'MUST',
    dimension: 'lifecycle',
    evidence: 'e',
    section: 's',
    line: 1,
    ...extra,
  });

  it('reports nothing when registry and catalogue agree', () => {
    expect(diffAgainstCatalogue([req({ id: 'A-01' })], [row('A-01')])).toEqual([]);
  });

  it('names an ID present on only one side', () => {
    expect(diffAgainstCatalogue([req({ id: 'A-01' })], [row('B-01')])).toEqual([
      'A-01 is in the registry but not in requirements.md',
      'B-01 is in requirements.md but not in the registry',
    ]);
  });

  it('names the ID when level, dimension or evidence differ', () => {
    const problems = diffAgainstCatalogue(
      [req({ id: 'A-01' })],
      [row('A-01', { level: 'SHOULD', dimension: 'netstore', evidence: 'other' })],
    );
    expect(problems).toHaveLength(3);
    expect(problems[0]).toMatch(/^A-01 level/);
    expect(problems[1]).toMatch(/^A-01 dimension/);
    expect(problems[2]).toMatch(/^A-01 evidence text differs/);
  });

  it('reports duplicates on either side', () => {
    expect(
      diffAgainstCatalogue([req({ id: 'A-01' }), req({ id: 'A-01' })], [row('A-01'), row('A-01', { line: 9 })]),
    ).toEqual([
      'A-01 appears more than once in requirements.md (line 9)',
      'A-01 appears more than once in the registry',
    ]);
  });
});

describe.skipIf(absent)(`registry against requirements.md${absent ? ` (${skipNote})` : ''}`, () => {
  it('has exactly the catalogue IDs with the same level, dimension and evidence text', () => {
    const rows = catalogue();
    // Guards against a parser regression that finds no rows and so makes the diff vacuous.
    expect(rows.length).toBeGreaterThan(50);
    expect(diffAgainstCatalogue(requirements, rows)).toEqual([]);
  });

  it('derives verification from the catalogue markers', () => {
    const problems: string[] = [];
    for (const row of catalogue()) {
      const r = requirementById(row.id);
      if (row.section.includes('(manual)')) {
        // Whole section is assessor statements: no suite can produce the evidence.
        if (r.verification !== 'manual' || !r.manual || r.suite !== null)
          problems.push(`${r.id} should be manual-only`);
      } else if (row.evidence.includes('(lab)') !== (r.verification === 'lab')) {
        problems.push(`${r.id}: '(lab)' marker and verification ${r.verification} disagree`);
      } else if (row.evidence.includes('(manual + check)')) {
        // An assessment file always; the check makes it auto once a suite has one (coverage.test.ts holds it to that).
        if (r.verification === 'lab' || !r.manual)
          problems.push(`${r.id} says (manual + check): want an assessment file, auto or (no check yet) manual`);
      }
    }
    expect(problems).toEqual([]);
  });
});

describe.skipIf(absent)(`registry against the ADR${absent ? ` (${skipNote})` : ''}`, () => {
  it('quotes every adrClause verbatim as a line under its adrSection', () => {
    const sections = adrBySection(adrLines());
    const problems: string[] = [];
    for (const r of requirements) {
      const lines = sections.get(r.adrSection);
      if (lines === undefined) problems.push(`${r.id}: ADR has no heading '${r.adrSection}'`);
      else if (!lines.map(bulletText).includes(r.adrClause)) {
        problems.push(`${r.id}: '${r.adrClause}' is not a line under '${r.adrSection}'`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('covers every bullet of the ADR requirement sections', () => {
    const sections = adrBySection(adrLines());
    const claimed = new Set(requirements.map((r) => r.adrClause));
    const unclaimed: string[] = [];
    // 'Evaluation model' lists scoring dimensions, not requirements; only its commercial line is claimed.
    for (const heading of adrSections.filter((s) => s !== 'Evaluation model')) {
      const bullets = (sections.get(heading) ?? []).filter((l) => l.startsWith('- ')).map(bulletText);
      expect(bullets.length, `ADR section '${heading}' has no bullets`).toBeGreaterThan(0);
      for (const b of bullets) if (!claimed.has(b)) unclaimed.push(`${heading}: ${b}`);
    }
    expect(unclaimed).toEqual([]);
  });

  it('titles the dimensions as the ADR Evaluation model does', () => {
    const model = adrBySection(adrLines()).get('Evaluation model') ?? [];
    for (const d of dimensions) {
      expect(
        model.some((l) => l.startsWith(`${d.title} `)),
        d.title,
      ).toBe(true);
    }
    expect(new Set(requirements.map((r) => r.dimension))).toEqual(new Set(dimensions.map((d) => d.id)));
  });
});

describe('registry invariants', () => {
  it('has unique IDs', () => {
    const ids = requirements.map((r) => r.id);
    expect(ids.filter((id, i) => ids.indexOf(id) !== i)).toEqual([]);
  });

  it('gives every non-manual requirement a suite (so every requirement has a suite or manual)', () => {
    expect(requirements.filter((r) => !r.manual && r.suite === null).map((r) => r.id)).toEqual([]);
    // None takes an assessment file on top of a suite's check yet: INV-05, INT-04 and INT-05 have no check.
    expect(requirements.filter((r) => r.manual && r.suite !== null).map((r) => r.id)).toEqual([]);
  });

  it('keeps verification, suite and manual consistent', () => {
    // manual verification means nothing runs, so it must have no suite and accept an assessment file.
    const inconsistent = requirements.filter(
      (r) => (r.verification === 'manual') !== (r.suite === null) || (r.verification === 'manual' && !r.manual),
    );
    expect(inconsistent.map((r) => r.id)).toEqual([]);
    expect(
      requirements
        .filter((r) => r.suite !== null && !/^suites\/[a-z-]+\.conformance\.ts$/.test(r.suite))
        .map((r) => r.id),
    ).toEqual([]);
  });

  it('looks requirements up by ID and rejects unknown IDs by name', () => {
    expect(requirementById('NIC-04').verification).toBe('lab');
    expect(requirementById('COM-01').suite).toBeNull();
    expect(() => requirementById('LC-99')).toThrow(/Unknown requirement ID 'LC-99'/);
    expect(isRequirementId('INT-04')).toBe(true);
    expect(isRequirementId('int-04')).toBe(false);
  });

  it('types RequirementId as a literal union', () => {
    const ok: RequirementId = 'MDC-04';
    // @ts-expect-error a typo must not compile (checked by tsc --noEmit)
    const typo: RequirementId = 'MDC-4';
    expect([ok, typo]).toEqual(['MDC-04', 'MDC-4']);
  });
});
