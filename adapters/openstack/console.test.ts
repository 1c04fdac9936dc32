import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { boots, parseConsole } from '../../host/guest/report.js';
import { consoleAll, emptyConsole, seeConsole } from './console.js';

/** A recorded os-getConsoleOutput answer as the adapter reads it: a stopped server's 404 is an empty log. */
const recorded = (name: string) =>
  (
    JSON.parse(readFileSync(new URL(`./fixtures/${name}.json`, import.meta.url), 'utf8')) as {
      body: { output?: string };
    }
  ).body.output ?? '';

describe('console across restarts', () => {
  const first = recorded('real-console-first-boot');
  const second = first.replaceAll('6803bb01-32e8-4c1d-9f66-c62ed033b32b', '11111111-2222-4333-8444-555555555555');

  it('keeps a boot whose log Nova replaced at the next start (recorded: the log is empty right after os-start)', () => {
    let s = seeConsole(emptyConsole(), first.slice(0, 100));
    s = seeConsole(s, first);
    expect(s.done).toEqual([]);
    s = seeConsole(s, recorded('real-console-stopped'));
    s = seeConsole(s, recorded('real-console-after-start'));
    expect(s.current).toBe(first);
    s = seeConsole(s, second);
    const ids = boots(parseConsole(consoleAll(s))).map((b) => b.ready.bootId);
    expect(ids).toEqual(['6803bb01-32e8-4c1d-9f66-c62ed033b32b', '11111111-2222-4333-8444-555555555555']);
  });

  it('follows a log grown past the window Nova returns, without taking it for a restart', () => {
    const long = `${'x'.repeat(8000)}\n${first}`;
    let s = seeConsole(emptyConsole(), long);
    s = seeConsole(s, `${long.slice(3000)}more\n`);
    expect(s.done).toEqual([]);
    expect(s.current).toBe(`${long}more\n`);
  });
});
