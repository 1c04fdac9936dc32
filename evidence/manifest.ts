/**
 * Tamper evidence for a run folder: manifest.json lists the sha256 of every file the run produced
 * (bundles with their transcripts, leak checks, vitest output, report), optionally signed with an
 * SSH key (`ssh-keygen -Y sign`, namespace vmconform, signature in manifest.json.sig). Verifying
 * names every file that changed, is missing or was added, and checks the signature.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { access, constants, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { ConfigInvalid } from './errors.js';

export const manifestName = 'manifest.json';
export const signatureName = `${manifestName}.sig`;
export const manifestSchema = 'vmconform.manifest/v1';
const namespace = 'vmconform';

export interface Manifest {
  schema: typeof manifestSchema;
  createdAt: string;
  algorithm: 'sha256';
  /** Path relative to the run folder, '/'-separated -> digest and size. */
  files: Record<string, { sha256: string; bytes: number }>;
}

const sealFiles = new Set([manifestName, signatureName]);

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

/** Every regular file under `dir` (relative, '/'-separated, sorted), but the manifest and its signature. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)).split(sep).join('/'))
    .filter((f) => !sealFiles.has(f))
    .sort();
}

async function digest(path: string): Promise<{ sha256: string; bytes: number }> {
  const data = await readFile(path);
  return { sha256: createHash('sha256').update(data).digest('hex'), bytes: data.length };
}

/** ssh-keygen with stdin from `input`; the key is named by its file, never passed as text. */
function sshKeygen(args: string[], input?: Buffer): Promise<{ ok: boolean; out: string }> {
  return new Promise((done) => {
    const child = execFile('ssh-keygen', args, { encoding: 'utf8' }, (err, stdout, stderr) =>
      done({ ok: !err, out: `${stdout}${stderr}`.trim() }),
    );
    child.stdin?.end(input);
  });
}

/** Refuses a --sign-key that cannot be read before a run starts, not after it ends. */
export async function checkSignKey(keyFile: string): Promise<void> {
  await access(keyFile, constants.R_OK).catch(() => {
    throw new ConfigInvalid(`--sign-key ${keyFile}: cannot read this SSH private key file`);
  });
}

/** Writes <runDir>/manifest.json and, with a key, manifest.json.sig. Returns the manifest. */
export async function writeManifest(runDir: string, opts: { signKey?: string } = {}): Promise<Manifest> {
  const files: Manifest['files'] = {};
  for (const f of await filesUnder(runDir)) files[f] = await digest(join(runDir, f));
  const manifest: Manifest = {
    schema: manifestSchema,
    createdAt: new Date().toISOString(),
    algorithm: 'sha256',
    files,
  };
  const path = join(runDir, manifestName);
  await writeFile(path, `${JSON.stringify(manifest, null, 2)}\n`);
  // A signature of an older manifest must not sit beside this one (ssh-keygen would also ask to overwrite it).
  await rm(join(runDir, signatureName), { force: true });
  if (opts.signKey) {
    const r = await sshKeygen(['-Y', 'sign', '-f', opts.signKey, '-n', namespace, path]);
    if (!r.ok) throw new ConfigInvalid(`signing ${path} with --sign-key ${opts.signKey} failed: ${r.out}`);
  }
  return manifest;
}

export type SignatureState =
  /** Signed, and the signature verifies with the given public key. */
  | 'valid'
  /** Signed and well-formed, but no public key was given to check who signed. */
  | 'unchecked'
  /** Signed, but it does not verify (with the given key, or at all). */
  | 'invalid'
  /** Not signed, and no public key was asked for. */
  | 'none'
  /** Not signed, though a public key was given: a signature was expected. */
  | 'missing';

export interface Verification {
  runDir: string;
  /** Null when there is no readable manifest: nothing else could be checked. */
  manifest: Manifest | null;
  /** False when the folder has no manifest.json at all (a run from before manifests, or not a run folder). */
  sealed: boolean;
  changed: string[];
  missing: string[];
  extra: string[];
  signature: SignatureState;
  /** ssh-keygen's own words (signer key fingerprint, or why it failed). */
  signatureDetail: string;
  /** Why the manifest could not be read, when it could not. */
  problem?: string;
  intact: boolean;
}

async function checkSignature(
  runDir: string,
  manifestBytes: Buffer,
  publicKey?: string,
): Promise<Pick<Verification, 'signature' | 'signatureDetail'>> {
  const sig = join(runDir, signatureName);
  if (!(await exists(sig)))
    return publicKey
      ? { signature: 'missing', signatureDetail: `no ${signatureName}, though --public-key was given` }
      : { signature: 'none', signatureDetail: 'not signed' };
  if (!publicKey) {
    const r = await sshKeygen(['-Y', 'check-novalidate', '-n', namespace, '-s', sig], manifestBytes);
    return r.ok ? { signature: 'unchecked', signatureDetail: r.out } : { signature: 'invalid', signatureDetail: r.out };
  }
  const key = (
    await readFile(publicKey, 'utf8').catch(() => {
      throw new ConfigInvalid(`--public-key ${publicKey}: cannot read it`);
    })
  ).trim();
  if (!/^(ssh-|ecdsa-|sk-)\S+ \S+/.test(key))
    throw new ConfigInvalid(`--public-key ${publicKey}: not an SSH public key (expected e.g. 'ssh-ed25519 AAAA...')`);
  // ssh-keygen verifies against an allowed-signers file: one entry, this key, this namespace only.
  const dir = await mkdtemp(join(tmpdir(), 'vmconform-verify-'));
  try {
    const allowed = join(dir, 'allowed_signers');
    await writeFile(allowed, `${namespace} namespaces="${namespace}" ${key.split('\n')[0]}\n`);
    const r = await sshKeygen(
      ['-Y', 'verify', '-f', allowed, '-I', namespace, '-n', namespace, '-s', sig],
      manifestBytes,
    );
    return { signature: r.ok ? 'valid' : 'invalid', signatureDetail: r.out };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Checks every hash in <runDir>/manifest.json and its signature; `only` limits which files are checked (the signature always covers the whole manifest). */
export async function verifyRun(
  runDir: string,
  opts: { publicKey?: string; only?: (file: string) => boolean } = {},
): Promise<Verification> {
  const base = { runDir, changed: [], missing: [], extra: [] };
  const bytes = await readFile(join(runDir, manifestName)).catch((e: NodeJS.ErrnoException) => e);
  if (bytes instanceof Error)
    return {
      ...base,
      manifest: null,
      sealed: bytes.code !== 'ENOENT',
      signature: 'none',
      signatureDetail: 'not checked',
      problem:
        bytes.code === 'ENOENT'
          ? (await exists(runDir))
            ? `no ${manifestName}: this run folder was never sealed`
            : `${runDir}: no such run folder`
          : `${manifestName}: ${bytes.message}`,
      intact: false,
    };
  let manifest: Manifest;
  try {
    manifest = JSON.parse(bytes.toString('utf8')) as Manifest;
    if (manifest.schema !== manifestSchema || typeof manifest.files !== 'object' || manifest.files === null)
      throw new Error(`not a ${manifestSchema} manifest`);
  } catch (e) {
    return {
      ...base,
      manifest: null,
      sealed: true,
      signature: 'none',
      signatureDetail: 'not checked',
      problem: `${manifestName}: ${(e as Error).message}`,
      intact: false,
    };
  }
  const only = opts.only ?? (() => true);
  const listed = Object.keys(manifest.files).filter(only).sort();
  const present = new Set((await filesUnder(runDir)).filter(only));
  const changed: string[] = [];
  const missing: string[] = [];
  for (const f of listed) {
    if (!present.has(f)) {
      missing.push(f);
      continue;
    }
    const want = manifest.files[f];
    const got = await digest(join(runDir, f));
    if (got.sha256 !== want?.sha256) changed.push(f);
  }
  const extra = [...present].filter((f) => !(f in manifest.files));
  const sig = await checkSignature(runDir, bytes, opts.publicKey);
  const signatureOk = sig.signature === 'valid' || sig.signature === 'unchecked' || sig.signature === 'none';
  return {
    runDir,
    manifest,
    sealed: true,
    changed,
    missing,
    extra,
    ...sig,
    intact: changed.length === 0 && missing.length === 0 && extra.length === 0 && signatureOk,
  };
}

/** What a person reads: one line per problem, then the signature, then the verdict. */
export function verificationLines(v: Verification): string[] {
  if (!v.manifest) return [`NOT VERIFIED: ${v.problem}`];
  const lines = [
    ...v.changed.map((f) => `changed: ${f} (its sha256 differs from the manifest)`),
    ...v.missing.map((f) => `missing: ${f} (in the manifest, not in the run folder)`),
    ...v.extra.map((f) => `extra: ${f} (in the run folder, not in the manifest)`),
  ];
  const sig: Record<SignatureState, string> = {
    valid: `signature: valid with the given public key (${v.signatureDetail})`,
    unchecked: `signature: well-formed, but who signed is not checked without --public-key (${v.signatureDetail})`,
    invalid: `signature: INVALID (${v.signatureDetail})`,
    none: 'signature: none (the run was not signed with --sign-key)',
    missing: `signature: MISSING (${v.signatureDetail})`,
  };
  lines.push(sig[v.signature]);
  const n = Object.keys(v.manifest.files).length;
  const problems = [
    v.changed.length && `${v.changed.length} changed`,
    v.missing.length && `${v.missing.length} missing`,
    v.extra.length && `${v.extra.length} extra`,
    (v.signature === 'invalid' || v.signature === 'missing') && `signature ${v.signature}`,
  ].filter(Boolean);
  lines.push(
    v.intact
      ? `intact: ${n} files match ${manifestName}`
      : `NOT INTACT: ${problems.join(', ')} (manifest lists ${n} files)`,
  );
  return lines;
}

/** Seals a run folder at the end of evaluate (a run that wrote nothing has nothing to seal). */
export async function sealRun(runDir: string, signKey: string | undefined, say: (m: string) => void): Promise<void> {
  if (!(await exists(runDir))) return;
  const m = await writeManifest(runDir, signKey ? { signKey } : {});
  say(
    `manifest: ${join(runDir, manifestName)} (${Object.keys(m.files).length} files, sha256${signKey ? `, signed: ${signatureName}` : ', not signed'}); check with: vmconform verify ${runDir}`,
  );
}
