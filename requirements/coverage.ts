/**
 * Which conformance tests evidence which requirement, read from the suites' source with the TypeScript
 * parser (not by importing them: a suite connects to a lab when it runs). Only `requirement([...ids], title, fn)`
 * produces evidence (it records the verdict); a plain `it`/`test` titled with an ID produces none, so
 * finding one is an error rather than coverage.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import type { Requirement } from './registry.js';

/** One requirement-tagged test as the runner names it (`<ids>: <title>`), in the file that declares it. */
export interface SuiteTest {
  file: string;
  ids: string[];
  /** The test's name as the runner and the evidence bundle show it. */
  test: string;
}

export interface CoverageEntry {
  file: string;
  test: string;
}

/** Every registry ID, in registry order, with the tests that evidence it (empty for none). */
export type Coverage = Record<string, CoverageEntry[]>;

const idAtStart = /^[A-Z]+-\d{2}\b/;

const literalText = (node: ts.Node | undefined): string | undefined =>
  node && (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) ? node.text : undefined;

/** The callee's name for `f(...)`, `f.skip(...)` and `f.skipIf(c)(...)`: 'f'. */
function calleeName(expr: ts.Expression): string | undefined {
  if (ts.isIdentifier(expr)) return expr.text;
  if (ts.isPropertyAccessExpression(expr)) return calleeName(expr.expression);
  if (ts.isCallExpression(expr)) return calleeName(expr.expression);
  return undefined;
}

/**
 * The requirement-tagged tests of one suite file. Throws, naming file and line, on a `requirement()` call
 * whose IDs or title are not literals (it could not be mapped) and on a plain test titled with an ID.
 */
export function suiteTests(file: string, source: string): SuiteTest[] {
  const sf = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const out: SuiteTest[] = [];
  const where = (node: ts.Node) => `${file}:${sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1}`;
  const visit = (node: ts.Node): void => {
    if (ts.isCallExpression(node)) {
      const name = calleeName(node.expression);
      if (name === 'requirement' && ts.isIdentifier(node.expression)) {
        const [idsArg, titleArg] = node.arguments;
        const ids =
          idsArg && ts.isArrayLiteralExpression(idsArg) ? idsArg.elements.map((e) => literalText(e)) : undefined;
        const title = literalText(titleArg);
        if (ids === undefined || ids.length === 0 || ids.some((id) => id === undefined) || title === undefined)
          throw new Error(`${where(node)}: requirement() needs a literal array of IDs and a literal title`);
        const known = ids as string[];
        out.push({ file, ids: known, test: `${known.join(' ')}: ${title}` });
      } else if (name === 'it' || name === 'test') {
        const title = literalText(node.arguments[0]);
        if (title !== undefined && idAtStart.test(title))
          throw new Error(
            `${where(node)}: '${title}' is a plain ${name}() titled with a requirement ID; only requirement() records evidence`,
          );
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

/** Every `suites/*.conformance.ts` under the repository root, parsed, in file-name order. */
export function readSuiteTests(root: string): SuiteTest[] {
  const files = readdirSync(join(root, 'suites'))
    .filter((f) => f.endsWith('.conformance.ts'))
    .sort();
  return files.flatMap((f) => suiteTests(`suites/${f}`, readFileSync(join(root, 'suites', f), 'utf8')));
}

/** The coverage map: each registry ID (registry order) with its tests (file order, then source order). */
export function buildCoverage(registry: readonly Requirement[], tests: readonly SuiteTest[]): Coverage {
  const coverage: Coverage = {};
  for (const r of registry) coverage[r.id] = [];
  for (const t of tests) for (const id of t.ids) coverage[id]?.push({ file: t.file, test: t.test });
  return coverage;
}

/**
 * What is wrong between the registry and the tests, one sentence per finding: an ID a test names that the
 * registry lacks, an automatable requirement (auto or lab) with no test, or none in the suite the registry
 * names for it (the report says that suite "ran but has none"), and a manual-only requirement a test names.
 */
export function coverageProblems(registry: readonly Requirement[], tests: readonly SuiteTest[]): string[] {
  const problems: string[] = [];
  const known = new Set(registry.map((r) => r.id));
  for (const t of tests)
    for (const id of t.ids) if (!known.has(id)) problems.push(`${t.file}: '${t.test}' names unknown requirement ${id}`);
  const coverage = buildCoverage(registry, tests);
  for (const r of registry) {
    const entries = coverage[r.id] ?? [];
    if (r.verification === 'manual') {
      if (entries.length > 0)
        problems.push(`${r.id} is manual in the registry but ${entries[0]?.file} has a test for it; make it auto`);
    } else if (entries.length === 0) {
      problems.push(`${r.id} is ${r.verification} in the registry but no suite has a test for it`);
    } else if (!entries.some((e) => e.file === r.suite)) {
      problems.push(`${r.id} is assigned to ${r.suite}, which has no test for it (tests in ${entries[0]?.file})`);
    }
  }
  return problems;
}
