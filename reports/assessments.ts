/**
 * Manual assessments (reports/assessments/<platform>.yaml): an assessor's verdict with public
 * sources for what no lab can show (COM-*, INV-05, INT-04, INT-05). A developer writes them as
 * `status: draft`; only Dataverket signs them (`status: signed`, `signedBy`), and the scorer counts
 * a draft as inconclusive.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { platformName } from '../evidence/bundle.js';
import { ConfigInvalid } from '../evidence/errors.js';
import { parseYamlFile } from '../evidence/yaml-file.js';
import { isRequirementId } from '../requirements/registry.js';

const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'a date as YYYY-MM-DD');

const assessment = z
  .strictObject({
    assessor: z.string().min(1),
    date: isoDate,
    verdict: z.enum(['met', 'not-met', 'partial']),
    status: z.enum(['draft', 'signed']),
    /** Who signed for Dataverket; required when status is signed. */
    signedBy: z.string().min(1).optional(),
    summary: z.string().min(1),
    sources: z
      .array(
        z.strictObject({
          title: z.string().min(1),
          url: z.url({ protocol: /^https?$/, error: 'a public http(s) URL' }),
        }),
      )
      .min(1, 'at least one source'),
  })
  .refine((a) => a.status !== 'signed' || a.signedBy !== undefined, {
    message: 'a signed assessment names who signed it for Dataverket (signedBy)',
    path: ['signedBy'],
  });

const assessmentFile = z.strictObject({
  platform: platformName,
  assessments: z.record(
    z.string().refine((id) => isRequirementId(id), 'a requirement ID from requirements/registry.ts'),
    assessment,
  ),
});

export type Assessment = z.infer<typeof assessment>;
export interface AssessmentFile {
  platform: string;
  assessments: Record<string, Assessment>;
}

export function parseAssessments(text: string, file: string): AssessmentFile {
  return parseYamlFile(assessmentFile, text, file);
}

export const defaultAssessmentsDir = fileURLToPath(new URL('./assessments/', import.meta.url));

/** The platform's assessment file, or null when there is none. */
export async function loadAssessments(platform: string, dir = defaultAssessmentsDir): Promise<AssessmentFile | null> {
  const file = join(dir, `${platform}.yaml`);
  const text = await readFile(file, 'utf8').catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return null;
    throw e;
  });
  if (text === null) return null;
  const parsed = parseAssessments(text, file);
  if (parsed.platform !== platform)
    throw new ConfigInvalid(`${file}: platform: says '${parsed.platform}', but the file is for '${platform}'`);
  return parsed;
}
