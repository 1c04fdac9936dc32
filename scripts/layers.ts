/**
 * Which folders may import which: layers import downward only, and a platform folder imports no other
 * platform. `layers.test.ts` reads every source file's relative imports and fails on one that breaks this.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';

/** A module's layer: the longest prefix of its repo-relative path listed here. */
const allowed: Record<string, string[]> = {
  'evidence/': [],
  'host/': ['evidence/'],
  'requirements/': ['evidence/'],
  'adapters/contract/': ['evidence/', 'host/'],
  'adapters/http/': ['adapters/contract/', 'evidence/', 'host/'],
  // Each platform folder: itself, the contract, the shared REST client, the evidence core and host helpers.
  'adapters/<platform>/': ['adapters/contract/', 'adapters/http/', 'evidence/', 'host/'],
  // The registration list and the lab config composed from the descriptors.
  'adapters/': ['adapters/<platform>/', 'adapters/contract/', 'adapters/http/', 'evidence/', 'host/'],
  'features/': ['adapters/contract/', 'evidence/', 'host/'],
  'lab/': ['adapters/', 'adapters/contract/', 'evidence/', 'host/'],
  'suites/': ['adapters/', 'adapters/contract/', 'features/', 'requirements/', 'evidence/', 'host/'],
  'run/': ['lab/', 'adapters/', 'adapters/contract/', 'features/', 'requirements/', 'evidence/', 'host/'],
  // Reports read bundles, never platforms.
  'reports/': ['requirements/', 'evidence/', 'host/'],
  'bench/': [
    'reports/',
    'run/',
    'lab/',
    'adapters/',
    'adapters/contract/',
    'features/',
    'requirements/',
    'evidence/',
    'host/',
  ],
  'scripts/': ['*'],
  'fixtures/': ['evidence/'],
};

const platformFolder = /^adapters\/(?!contract\/|http\/)[^/]+\//;

/** The layer key of a repo-relative path, or undefined for files outside every layer (root config). */
export function layerOf(path: string): string | undefined {
  if (platformFolder.test(path)) return 'adapters/<platform>/';
  return Object.keys(allowed)
    .filter((k) => k !== 'adapters/<platform>/' && path.startsWith(k))
    .sort((a, b) => b.length - a.length)[0];
}

/** One import that breaks the layering, said so a person can fix it. */
export function violation(from: string, to: string): string | undefined {
  const a = layerOf(from);
  const b = layerOf(to);
  if (!a || !b || a === b) {
    // Inside one platform folder is fine; from one platform folder into another is not.
    if (a === 'adapters/<platform>/' && b === a && from.split('/')[1] !== to.split('/')[1])
      return `${from} imports ${to}: a platform folder imports no other platform`;
    return undefined;
  }
  const ok = allowed[a] ?? [];
  if (ok.includes('*') || ok.includes(b)) return undefined;
  return `${from} (${a}) imports ${to} (${b}): ${a} may import only ${ok.join(', ') || 'nothing else of the project'}`;
}

const specifier = /(?:from\s+|import\(\s*)'(\.{1,2}\/[^']+)'/g;

/** Every relative import of every .ts/.mjs file under `root`, as repo-relative paths. */
export function importsOf(root: string): { from: string; to: string }[] {
  const out: { from: string; to: string }[] = [];
  const files = readdirSync(root, { recursive: true, encoding: 'utf8' }).filter(
    (f) => /\.(ts|mjs)$/.test(f) && !f.split(sep).includes('node_modules') && !f.startsWith(`out${sep}`),
  );
  for (const f of files) {
    const text = readFileSync(join(root, f), 'utf8');
    for (const m of text.matchAll(specifier)) {
      const to = relative(root, join(root, dirname(f), m[1] as string)).replace(/\.js$/, '.ts');
      out.push({ from: f.split(sep).join('/'), to: to.split(sep).join('/') });
    }
  }
  return out;
}
