/** `vmconform verify`: checks a run folder against its manifest (hashes, and the SSH signature if any). */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { verificationLines, verifyRun } from '../../evidence/manifest.js';
import { redact } from '../../evidence/redact.js';
import { sayOut } from '../options.js';

export function registerVerify(program: Command): void {
  program
    .command('verify')
    .description(
      'check a run folder against its manifest.json: every file sha256, what changed, is missing or was added, and the signature (--sign-key of evaluate); exit 1 on any mismatch, 0 when intact',
    )
    .argument('<run folder>', 'out/<run>, as written by evaluate')
    .option('--public-key <file>', 'SSH public key the manifest must be signed with (e.g. id_ed25519.pub)')
    .option('--json', 'print what verification found as JSON on stdout')
    .action(async (dir: string, opts: { publicKey?: string; json?: boolean }) => {
      const v = await verifyRun(resolve(dir), { ...(opts.publicKey ? { publicKey: resolve(opts.publicKey) } : {}) });
      if (opts.json) process.stdout.write(`${JSON.stringify(redact(v), null, 2)}\n`);
      else {
        sayOut(`verify ${v.runDir}`);
        for (const line of verificationLines(v)) sayOut(line);
      }
      process.exitCode = v.intact ? 0 : 1;
    });
}
