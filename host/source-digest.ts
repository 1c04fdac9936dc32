/**
 * A digest of a folder's source files, so a lab can tell that the simulator it left running was started
 * from other code (a pull, another checkout) and restart it instead of testing against stale behaviour.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';

export async function sourceDigest(dir: string, ext = /\.(ts|mjs|js|json)$/): Promise<string> {
  const files: string[] = [];
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (ext.test(e.name) && !/\.test\.ts$/.test(e.name)) files.push(p);
    }
  };
  await walk(dir);
  const h = createHash('sha256');
  for (const f of files.sort())
    h.update(relative(dir, f))
      .update('\0')
      .update(await readFile(f))
      .update('\0');
  return h.digest('hex').slice(0, 16);
}
