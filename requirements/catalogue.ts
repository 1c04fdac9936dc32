/**
 * Parser for the requirement catalogue requirements.md (a shared document kept beside the repository, not
 * in it) and a diff against the registry, for the cross-check in registry.test.ts.
 * Pure functions over strings so they can be tested without the file.
 */
import type { Requirement } from './registry.js';

export interface CatalogueRow {
  id: string;
  /** As written in the file; the diff, not the parser, decides whether it is valid. */
  level: string;
  dimension: string;
  evidence: string;
  /** The nearest preceding `## ` heading, or '' before any. */
  section: string;
  /** 1-based line number, for error messages. */
  line: number;
}

const idPattern = /^[A-Z]+-\d{2}$/;

/** Splits a table line on unescaped pipes; `\|` stands for a literal pipe inside a cell. */
function splitCells(line: string): string[] {
  const inner = line.trim().replace(/^\|/, '').replace(/\|$/, '');
  return inner.split(/(?<!\\)\|/).map((cell) => cell.trim().replaceAll('\\|', '|'));
}

/**
 * Returns every requirement row (`| ID | level | dim | text |`) of the catalogue. Header and separator
 * rows are skipped. A table row whose first cell looks like an ID but has the wrong number of cells
 * throws, so a broken row cannot silently drop a requirement.
 */
export function parseCatalogue(markdown: string): CatalogueRow[] {
  const rows: CatalogueRow[] = [];
  let section = '';
  markdown.split(/\r?\n/).forEach((text, index) => {
    const line = index + 1;
    const heading = /^##\s+(.*\S)\s*$/.exec(text);
    if (heading?.[1] !== undefined) {
      section = heading[1];
      return;
    }
    if (!text.trimStart().startsWith('|')) return;
    const cells = splitCells(text);
    const [id = '', level = '', dimension = '', evidence = ''] = cells;
    if (!idPattern.test(id)) return; // header ('ID') or separator ('---') row
    if (cells.length !== 4) {
      throw new Error(
        `requirements.md line ${line}: row ${id} has ${cells.length} cells, expected 4 (ID, level, dim, text)`,
      );
    }
    rows.push({ id, level, dimension, evidence, section, line });
  });
  return rows;
}

/**
 * Compares the registry with the catalogue rows. Returns one problem per mismatch, each naming the ID:
 * a duplicate in either, an ID in only one of them, or a differing level, dimension or evidence text.
 */
export function diffAgainstCatalogue(registry: readonly Requirement[], rows: readonly CatalogueRow[]): string[] {
  const problems: string[] = [];
  const fileRows = new Map<string, CatalogueRow>();
  for (const row of rows) {
    if (fileRows.has(row.id)) problems.push(`${row.id} appears more than once in requirements.md (line ${row.line})`);
    else fileRows.set(row.id, row);
  }
  const seen = new Set<string>();
  for (const r of registry) {
    if (seen.has(r.id)) problems.push(`${r.id} appears more than once in the registry`);
    seen.add(r.id);
    const row = fileRows.get(r.id);
    if (row === undefined) {
      problems.push(`${r.id} is in the registry but not in requirements.md`);
      continue;
    }
    if (row.level !== r.level) problems.push(`${r.id} level: registry ${r.level}, requirements.md ${row.level}`);
    if (row.dimension !== r.dimension) {
      problems.push(`${r.id} dimension: registry ${r.dimension}, requirements.md ${row.dimension}`);
    }
    if (row.evidence !== r.evidence) {
      problems.push(`${r.id} evidence text differs: registry '${r.evidence}', requirements.md '${row.evidence}'`);
    }
  }
  for (const id of fileRows.keys()) {
    if (!seen.has(id)) problems.push(`${id} is in requirements.md but not in the registry`);
  }
  return problems;
}
