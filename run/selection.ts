/**
 * Which requirements a run asks for: `-r`/`--requirement` and `--skip` resolved against requirement IDs
 * only (never test titles), and the vitest name filter that runs exactly the tests tagged with them.
 */
import { ConfigInvalid } from '../evidence/errors.js';
import { quietIds, type Requirement, requirements } from '../requirements/registry.js';
import { taggedFiles } from '../requirements/tagged.js';

export interface Selection {
  /** Selected requirements a suite produces evidence for: what the run asks for, in registry order. */
  run: string[];
  /** The suite files holding their tests: vitest loads only these. */
  files: string[];
  /** Selected requirements no test is tagged with (an assessment file supplies them, or a harness gap): never run. */
  noTest: string[];
  /** Requirements excluded, and why. */
  skipped: { id: string; why: 'skip' | 'not-selected' }[];
  /** True when -r or --skip narrowed the catalogue. */
  narrowed: boolean;
}

// A term of letters with an optional '-' and digits is a prefix of IDs (LC-, LC-0, DSK); anything else a regex.
const prefixTerm = /^[A-Za-z]+(-\d*)?$/;

/** Splits on commas outside a regex quantifier like {1,2}. */
const terms = (spec: string) =>
  spec
    .split(/,(?![^{]*\})/)
    .map((s) => s.trim())
    .filter((s) => s !== '');

/**
 * The IDs a spec names: a comma-separated list of exact IDs (LC-01), prefixes (LC-, DSK) or regular
 * expressions tested against IDs only ('^LC-0[12]$', 'DSK|NIC'). A term that names no ID is bad input.
 */
export function resolveIds(spec: string, flag: string, catalogue: readonly Pick<Requirement, 'id'>[] = requirements) {
  const ids = catalogue.map((r) => r.id);
  const found = new Set<string>();
  const list = terms(spec);
  if (list.length === 0)
    throw new ConfigInvalid(`${flag} '${spec}': names no requirement (e.g. LC-01, LC-, 'DSK|NIC')`);
  for (const term of list) {
    const exact = ids.find((id) => id.toLowerCase() === term.toLowerCase());
    let matched: string[];
    if (exact) matched = [exact];
    else if (prefixTerm.test(term)) matched = ids.filter((id) => id.toLowerCase().startsWith(term.toLowerCase()));
    else {
      let re: RegExp;
      try {
        re = new RegExp(term);
      } catch {
        throw new ConfigInvalid(`${flag} '${term}': not a requirement id, prefix or valid regular expression`);
      }
      matched = ids.filter((id) => re.test(id));
    }
    if (matched.length === 0)
      throw new ConfigInvalid(`${flag} '${term}' matches no requirement id (e.g. LC-01, LC-, '^DSK-0[1-3]$')`);
    for (const id of matched) found.add(id);
  }
  return ids.filter((id) => found.has(id));
}

/** Resolves -r and --skip over the catalogue; a selection that would run nothing is bad input. */
export function select(
  opts: { requirement?: string; skip?: string },
  catalogue: readonly Pick<Requirement, 'id'>[] = requirements,
  tagged: ReadonlyMap<string, readonly string[]> = taggedFiles(),
): Selection {
  const picked = new Set(opts.requirement ? resolveIds(opts.requirement, '--requirement', catalogue) : []);
  const skipped = new Set(opts.skip ? resolveIds(opts.skip, '--skip', catalogue) : []);
  const sel: Selection = { run: [], files: [], noTest: [], skipped: [], narrowed: !!(opts.requirement || opts.skip) };
  for (const r of catalogue) {
    if (skipped.has(r.id)) sel.skipped.push({ id: r.id, why: 'skip' });
    else if (opts.requirement && !picked.has(r.id)) sel.skipped.push({ id: r.id, why: 'not-selected' });
    else if (!tagged.has(r.id)) sel.noTest.push(r.id);
    else {
      sel.run.push(r.id);
      for (const f of tagged.get(r.id) ?? []) if (!sel.files.includes(f)) sel.files.push(f);
    }
  }
  if (sel.run.length === 0)
    throw new ConfigInvalid(
      `the selection runs nothing${sel.noTest.length ? ` (no test is tagged with ${sel.noTest.join(' ')}: an assessment file supplies them)` : ''}`,
    );
  return sel;
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * vitest's -t filter for a selection: it matches a test's full name (describe titles, a space, the test
 * title), and suites title tests `${ids.join(' ')}: ${title}` (suites/harness.ts), so the selected ID must
 * sit in the space-separated ID list ending in the first ': ' of the name — never in a describe (whose
 * titles hold no ': ') or in the title's words.
 */
export function namePattern(ids: readonly string[]): string {
  const anyId = '[A-Z][A-Z0-9]*-[0-9A-Za-z]+';
  return `^(?:(?:(?!: ).)* )?(?:${anyId} )*(?:${ids.map(escapeRe).join('|')})(?: ${anyId})*: `;
}

/** The first pass and the quiet pass of a concurrent evaluation (run/schedule.ts). */
export interface QuietSplit {
  /** Everything but the quiet requirements' tests; absent when only quiet requirements are selected. */
  main?: { files: string[]; namePattern: string };
  quiet: { ids: string[]; files: string[]; namePattern: string };
}

/**
 * Splits a selection into the tests that may run beside other platforms and those of the requirements that
 * need a quiet machine (registry `quiet`); a test tagged with any quiet requirement runs in the quiet pass.
 * Undefined when nothing selected needs quiet.
 */
export function quietSplit(
  sel: Selection,
  quiet: readonly string[] = quietIds,
  tagged: ReadonlyMap<string, readonly string[]> = taggedFiles(),
): QuietSplit | undefined {
  const q = sel.run.filter((id) => quiet.includes(id));
  if (q.length === 0) return undefined;
  const rest = sel.run.filter((id) => !q.includes(id));
  const filesOf = (ids: string[]) => [...new Set(ids.flatMap((id) => tagged.get(id) ?? []))];
  // Both patterns are anchored at the start of the name: the lookahead leaves out every test of a quiet one.
  const notQuiet = `^(?!${namePattern(q).slice(1)})`;
  return {
    ...(rest.length > 0
      ? {
          main: sel.narrowed
            ? { files: filesOf(rest), namePattern: `${notQuiet}${namePattern(rest).slice(1)}` }
            : { files: [], namePattern: notQuiet },
        }
      : {}),
    quiet: { ids: q, files: filesOf(q), namePattern: namePattern(q) },
  };
}
