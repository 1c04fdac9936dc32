import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { generatedFiles, regenerateCommand, renderCatalogue } from './generated.js';
import { requirements } from './registry.js';

const root = fileURLToPath(new URL('../', import.meta.url));

describe('generated files', () => {
  for (const f of generatedFiles(root))
    it(`${f.path} is what the registry generates`, () => {
      const committed = readFileSync(`${root}${f.path}`, 'utf8');
      expect(committed, `${f.path} is stale: run \`${regenerateCommand}\` and commit it`).toBe(f.content);
    });

  it('the catalogue has one row per requirement and escapes pipes in cells', () => {
    const md = renderCatalogue(requirements);
    for (const r of requirements) expect(md).toContain(`| ${r.id} | ${r.level} | ${r.dimension} |`);
    const [first] = requirements;
    if (first === undefined) throw new Error('empty registry');
    expect(renderCatalogue([{ ...first, title: 'a|b' }])).toContain('| a\\|b |');
  });
});
