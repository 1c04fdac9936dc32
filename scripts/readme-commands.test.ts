/** README's command list and exit codes agree with the command tree and --help. */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { expect, test } from 'vitest';
import { exitCodeHelp } from './exit-codes.js';
import { buildProgram } from './program.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const commandLines = (readme.split('## Commands')[1] ?? '')
  .split('```')[1]
  ?.split('\n')
  .filter((l) => l.startsWith('vmconform ')) as string[];

/** Every leaf command by path ('lab up', 'evaluate'), with the long and short flags it takes. */
function leaves(cmd: Command, prefix = ''): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const c of cmd.commands) {
    const path = `${prefix}${c.name()}`;
    if (c.commands.length > 0) for (const [k, v] of leaves(c, `${path} `)) out.set(k, v);
    else
      out.set(
        path,
        c.options.flatMap((o) => [o.long, o.short].filter((f): f is string => !!f)),
      );
  }
  return out;
}

const program = buildProgram();
const commands = leaves(program);
const global = program.options.flatMap((o) => [o.long, o.short].filter((f): f is string => !!f));

/** The command paths a README line documents: `lab up|down NAME` documents 'lab up' and 'lab down'. */
function documented(line: string): string[] {
  const words = line.replace(/^vmconform /, '').split(/\s+/);
  const first = words[0] as string;
  if (first.startsWith('-')) return [];
  const sub = words[1] ?? '';
  const subs = sub.split('|').filter((s) => commands.has(`${first} ${s}`));
  return subs.length > 0 ? subs.map((s) => `${first} ${s}`) : [first];
}

test('README documents every command, and only commands that exist, with flags they take', () => {
  const seen = new Set<string>();
  for (const line of commandLines) {
    const paths = documented(line);
    const flags = new Set([...global, ...paths.flatMap((p) => commands.get(p) ?? [])]);
    for (const p of paths) {
      expect(commands.has(p), `README line names no command: ${line}`).toBe(true);
      seen.add(p);
    }
    for (const f of line.matchAll(/(?<![\w-])(--?[a-z][\w-]*)/g))
      expect(flags.has(f[1] as string), `${f[1]} in README line: ${line}`).toBe(true);
  }
  expect([...commands.keys()].filter((c) => c !== 'help' && !seen.has(c))).toEqual([]);
});

test('README and --help give the same exit codes', () => {
  const help = [...exitCodeHelp.matchAll(/^\s+(\d+)\s/gm)].map((m) => m[1]);
  const table = [...readme.matchAll(/^\|\s*(\d+(?:, \d+)*)\s*\|/gm)].flatMap((m) => (m[1] as string).split(', '));
  expect(help).toEqual(['0', '1', '2', '3', '130']);
  expect(exitCodeHelp).toContain('143');
  expect(table).toEqual(['0', '1', '2', '3', '130', '143']);
});

test('conventions: -o is a folder (--output-dir) everywhere, a file is --output-file, commands that print data take --json', () => {
  for (const [path, flags] of commands) {
    if (flags.includes('-o')) expect(flags, path).toContain('--output-dir');
    expect(flags, path).not.toContain('--out');
  }
  // inventory export prints JSON anyway; bridge and fault-proxy stream until Ctrl-C.
  for (const path of [
    'lab status',
    'preflight',
    'evaluate',
    'report',
    'sweep',
    'inventory reconcile',
    'requirements',
    'verify',
  ])
    expect(commands.get(path), path).toContain('--json');
});

test('README names the conventional options each command takes: --json, --fail-on, -o, --output-file', () => {
  const mentioned = new Map<string, string>();
  for (const line of commandLines)
    for (const p of documented(line)) mentioned.set(p, `${mentioned.get(p) ?? ''} ${line}`);
  const aliases: Record<string, string[]> = { '--output-dir': ['-o', '--output-dir'] };
  for (const [path, flags] of commands) {
    const text = mentioned.get(path) ?? '';
    for (const f of ['--json', '--fail-on', '--output-dir', '--output-file'].filter((f) => flags.includes(f)))
      expect(
        (aliases[f] ?? [f]).some((a) => new RegExp(`(?<![\\w-])${a}(?![\\w-])`).test(text)),
        `README does not mention ${f} of ${path}`,
      ).toBe(true);
  }
});
