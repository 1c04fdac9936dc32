/** YAML files people edit by hand (scoring, assessments): parsed, validated, errors name file, line and field. */
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { ConfigInvalid } from './errors.js';

export function parseYamlFile<S extends z.ZodType>(schema: S, text: string, file: string): z.infer<S> {
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new ConfigInvalid(`${file}: not valid YAML: ${doc.errors.map((e) => e.message).join('; ')}`);
  }
  const result = schema.safeParse(doc.toJS() ?? {});
  if (result.success) return result.data;
  const lineOf = (path: PropertyKey[]): number | undefined => {
    // The deepest node that exists: a missing field is reported at its parent's line.
    for (let n = path.length; n > 0; n--) {
      const node = doc.getIn(path.slice(0, n) as (string | number)[], true) as { range?: [number, number] } | undefined;
      if (node?.range) return text.slice(0, node.range[0]).split('\n').length;
    }
    return undefined;
  };
  const at = (path: PropertyKey[], message: string) => {
    const line = lineOf(path);
    return `${file}${line ? `:${line}` : ''}: ${path.join('.') || '(top level)'}: ${message}`;
  };
  // An unknown key is reported at its own line and path, so a typo is found where it is.
  const problems = result.error.issues.flatMap((i) =>
    i.code === 'unrecognized_keys'
      ? i.keys.map((k) => at([...i.path, k], 'not a known field here'))
      : [at(i.path, i.message)],
  );
  throw new ConfigInvalid(problems.join('\n'));
}
