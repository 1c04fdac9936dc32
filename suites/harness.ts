/**
 * What every conformance suite uses: the target for this run, requirement-tagged tests whose
 * outcome becomes a verdict, timings, cleanup of what a suite created, and guest-side waits.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, test } from 'vitest';
import type {
  Capabilities,
  Driver,
  Platform,
  PlatformEvent,
  Receipt,
  Target,
  VmRef,
  VmSpec,
} from '../adapters/contract/index.js';
import { newRunId, Unsupported } from '../adapters/contract/index.js';
import { type LabConfig, loadLabConfig } from '../adapters/lab-config.js';
import { connectTarget, platforms } from '../adapters/platforms.js';
import { recordAttempt } from '../evidence/attempts.js';
import type { TimelineEntry } from '../evidence/bundle.js';
import { Checks } from '../evidence/checks.js';
import { redact, redactText } from '../evidence/redact.js';
import type { TestEvidence, Timing } from '../evidence/results.js';
import { Transcript } from '../evidence/transcript.js';
import type { RequirementOutcome } from '../evidence/verdict.js';
import { boots, diskBySerial, type GuestReport } from '../host/guest/report.js';
import { defaultWaitPolicies, waitFor } from '../host/wait.js';
import { classifyFinding, knownFindings, knownFindingsEnv } from '../requirements/known-findings.js';
import { asModelledExpectation, modelledExpectations } from '../requirements/modelled-expectations.js';
import type { RequirementId } from '../requirements/registry.js';

declare module 'vitest' {
  interface TaskMeta {
    vmconform?: TestEvidence;
  }
}

export interface Run {
  target: Target;
  caps: Capabilities;
  transcript: Transcript;
  /** Contract calls on VMs with the power state read back, sliced per test like the transcript. */
  timeline: TimelineEntry[];
  outDir: string;
  /** LC-07/LC-08 settings from the lab config (defaults documented in adapters/lab-config.ts). */
  predictability: LabConfig['predictability'];
}

const vmCalls = new Set(['create', 'start', 'stop', 'reboot', 'delete', 'rename', 'inspect', 'reconfigure']);

/**
 * Wraps the driver so every call on a VM lands in the timeline (inspect only when the power state
 * it reads differs from the last one seen), giving the report a state timeline per VM.
 */
export function recordTimeline(driver: Driver, timeline: TimelineEntry[]): Driver {
  const lastPower = new Map<string, string>();
  return new Proxy(driver, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof prop !== 'string' || !vmCalls.has(prop) || typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        const arg = args[0] as { name?: string } | undefined;
        const vm = arg?.name ?? '?';
        const at = new Date().toISOString();
        try {
          const r = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          const power = (r as { power?: string } | undefined)?.power;
          if (prop !== 'inspect' || (power !== undefined && lastPower.get(vm) !== power)) {
            if (power !== undefined) lastPower.set(vm, power);
            timeline.push({ at, vm, op: prop, ok: true, ...(power !== undefined ? { power } : {}) });
          }
          return r;
        } catch (e) {
          timeline.push({
            at,
            vm,
            op: prop,
            ok: false,
            detail: e instanceof Error ? e.message.slice(0, 200) : String(e),
          });
          throw e;
        }
      };
    },
  });
}

let runPromise: Promise<Run> | undefined;

/** One target per worker, from the environment the CLI sets; facts about the platform go to platform.json. */
export function currentRun(): Promise<Run> {
  runPromise ??= (async () => {
    const platform = (process.env.VMCONFORM_PLATFORM ?? 'libvirt') as Platform;
    if (!(platforms as string[]).includes(platform))
      throw new Error(`VMCONFORM_PLATFORM=${platform}: expected one of ${platforms.join(', ')}`);
    const runId = process.env.VMCONFORM_RUN_ID ?? newRunId();
    const { config, hash } = await loadLabConfig(process.env.VMCONFORM_CONFIG ?? 'lab/lab.local.yaml');
    const transcript = new Transcript();
    const timeline: TimelineEntry[] = [];
    const connected = await connectTarget(platform, config.platforms, { runId, transcript });
    const target: Target = { ...connected, driver: recordTimeline(connected.driver, timeline) };
    const caps = await target.driver.capabilities();
    const outDir = process.env.VMCONFORM_OUT ?? join(config.outputDir, runId, platform);
    await mkdir(outDir, { recursive: true });
    const [info, hosts] = await Promise.all([target.driver.platformInfo(), target.driver.hosts()]);
    await writeFile(
      join(outDir, 'platform.json'),
      JSON.stringify(redact({ info, hosts, capabilities: caps, configHash: hash }), null, 2),
    );
    return { target, caps, transcript, timeline, outDir, predictability: config.predictability };
  })();
  return runPromise;
}

/**
 * Stops a VM now: forced where the platform can, gracefully where it has no forced power-off (it says so
 * with Unsupported by 'platform'). For suites that need a stopped VM; LC-03 tests the forced stop itself.
 */
export async function stopNow(driver: Driver, vm: VmRef): Promise<Receipt> {
  try {
    return await driver.stop(vm, { force: true });
  } catch (e) {
    if (e instanceof Unsupported && e.by === 'platform') return driver.stop(vm, { force: false });
    throw e;
  }
}

/** Short, unique, owned names: `vmc-<run>-<suffix>`. */
export const vmName = (run: Run, suffix: string) => `vmc-${run.target.runId}-${suffix}`;

export interface ReqContext {
  run: Run;
  t: Target;
  caps: Capabilities;
  checks: Checks;
  /** Records a receipt's timings under an operation name. */
  time<T>(op: string, receipt: Promise<Receipt<T>>): Promise<Receipt<T>>;
  /** Records a measured phase (e.g. start -> guest ready). */
  phase(op: string, ms: number): void;
}

/** A conformance test's time limit unless it declares its own (vitest's conformance project has the same). */
export const requirementTimeoutMs = 600_000;
/** The harness ends a requirement this long before vitest would, so its evidence is still recorded. */
const budgetMarginMs = 15_000;

/** A requirement that ran past its budget: the harness's verdict is `error` (what ran is in its transcript). */
class BudgetExceeded extends Error {
  constructor(ms: number) {
    super(
      `the test ran past its ${Math.round(ms / 1000)} s budget and was ended by the harness: not a platform verdict (its last platform calls are in the transcript)`,
    );
  }
}

// A simulated result proves the adapter, never the platform: never shown or counted as a passed test.
const inconclusive = new Set(['simulated', 'unsupported', 'partial', 'prereq-missing', 'not-implemented']);

/**
 * A conformance test for one or more requirement IDs. Verdict mapping to the test runner:
 * pass passes; fail and error fail; simulated, unsupported, partial, prereq-missing and not-implemented are
 * reported as skipped with their reason (never counted as passed). The verdict itself goes to evidence.
 */
export function requirement(
  ids: RequirementId[],
  title: string,
  fn: (ctx: ReqContext) => Promise<void>,
  timeoutMs = requirementTimeoutMs,
): void {
  test(`${ids.join(' ')}: ${title}`, { timeout: timeoutMs }, async ({ task, skip }) => {
    const run = await currentRun();
    const checks = new Checks();
    const timings: Timing[] = [];
    const mark = run.transcript.length;
    const timelineMark = run.timeline.length;
    const started = Date.now();
    const ctx: ReqContext = {
      run,
      t: run.target,
      caps: run.caps,
      checks,
      async time(op, receipt) {
        const r = await receipt;
        timings.push({ op, acceptedMs: r.acceptedMs, doneMs: r.doneMs, handle: r.handle });
        return r;
      },
      phase(op, ms) {
        timings.push({ op, kind: 'phase', acceptedMs: ms, doneMs: ms });
      },
    };
    let outcome: RequirementOutcome;
    // vitest's own timeout would end the test before its evidence is recorded: the harness's budget ends first.
    const budgetMs = timeoutMs - budgetMarginMs;
    let overrun: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        fn(ctx),
        new Promise<never>((_, reject) => {
          overrun = setTimeout(() => reject(new BudgetExceeded(budgetMs)), budgetMs);
        }),
      ]);
      outcome = checks.outcome();
    } catch (e) {
      outcome =
        e instanceof BudgetExceeded
          ? { verdict: 'error', reasonCode: 'harness-timeout', reason: e.message }
          : checks.outcomeFromError(e);
    } finally {
      clearTimeout(overrun);
    }
    const platform = (process.env.VMCONFORM_PLATFORM ?? 'libvirt') as Platform;
    if (run.caps.evidence === 'simulated') {
      if (outcome.verdict === 'pass')
        outcome = {
          verdict: 'simulated',
          reasonCode: 'simulator',
          reason: 'Passed against a simulator: proves the adapter, not the platform.',
        };
      else outcome = asModelledExpectation(modelledExpectations, platform, ids, outcome) ?? outcome;
    }
    // A retry (evaluate --retries) finds the earlier attempt's evidence in the task: every attempt is kept.
    task.meta.vmconform = redact(
      recordAttempt(task.meta.vmconform, {
        requirements: ids,
        title,
        outcome,
        checks: checks.list,
        timings,
        transcript: run.transcript.since(mark),
        timeline: run.timeline.slice(timelineMark),
        evidence: run.caps.evidence,
        startedAt: new Date(started).toISOString(),
        durationMs: Date.now() - started,
      }),
    );
    outcome = task.meta.vmconform.outcome;
    // `vmconform test` only: a listed real-platform finding is skipped (the evidence above keeps `fail`),
    // and a listed finding that passes fails the test so the list cannot go stale.
    if (process.env[knownFindingsEnv] === '1' && run.caps.evidence !== 'simulated') {
      const d = classifyFinding(knownFindings, platform, ids, outcome);
      if (d.kind === 'stale') throw new Error(redactText(d.message));
      if (d.kind === 'expired') throw new Error(redactText(`${outcome.verdict}: ${outcome.reason} (${d.message})`));
      if (d.kind === 'known') {
        skip(redactText(d.message));
        return;
      }
    }
    // The runner prints these to the terminal and CI log: they pass the redactor like the evidence does.
    if (outcome.verdict === 'fail' || outcome.verdict === 'error')
      throw new Error(redactText(`${outcome.verdict}: ${outcome.reason}`));
    if (inconclusive.has(outcome.verdict)) skip(redactText(`${outcome.verdict}: ${outcome.reason}`));
  });
}

/**
 * What a suite file created (VMs, detached volumes, backups, images, local temp folders); removed
 * after the file whatever happened, VMs first so nothing is removed from under a VM, so nothing leaks.
 */
export function ownedVms(): {
  create(ctx: ReqContext, spec: VmSpec): Promise<VmRef>;
  all: VmRef[];
  keepVolume(id: string): void;
  keepBackup(id: string): void;
  keepImage(id: string): void;
  /** A local folder for files the harness holds (exports, image sources), removed after the file. */
  tmp(): Promise<string>;
} {
  const all: VmRef[] = [];
  const volumes: string[] = [];
  const backups: string[] = [];
  const images: string[] = [];
  const dirs: string[] = [];
  afterAll(async () => {
    const run = await currentRun();
    const d = run.target.driver;
    for (const vm of all.splice(0)) await d.delete(vm).catch(() => undefined);
    for (const id of backups.splice(0)) await d.deleteBackup(id).catch(() => undefined);
    for (const id of volumes.splice(0)) await d.deleteVolume(id).catch(() => undefined);
    for (const id of images.splice(0)) await d.deleteImage(id).catch(() => undefined);
    for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
  });
  return {
    all,
    keepVolume: (id) => void volumes.push(id),
    keepBackup: (id) => void backups.push(id),
    keepImage: (id) => void images.push(id),
    async tmp() {
      const dir = await mkdtemp(join(tmpdir(), 'vmconform-suite-'));
      dirs.push(dir);
      return dir;
    },
    async create(ctx, spec) {
      const r = await ctx.time('create', ctx.t.driver.create(spec));
      all.push(r.result);
      return r.result;
    },
  };
}

/**
 * State that several requirements of a suite share (a VM and what was done to it), made on first
 * need: a run filtered to one requirement builds what that requirement needs, a full run makes it
 * once. `make` registers what it creates (ownedVms) so cleanup does not depend on who made it.
 */
export interface Fixture<T> {
  /** The shared state, made now if nothing made it yet; a failed make is not retried (same error). */
  get(ctx: ReqContext): Promise<T>;
  /** The requirement that tests the making itself hands over what it made, for the others to reuse. */
  adopt(value: T): T;
  /** What there is so far, without making it. */
  peek(): T | undefined;
  /** Forget it (a requirement deleted it): the next get makes a new one. */
  forget(): void;
}

export function fixture<T>(make: (ctx: ReqContext) => Promise<T>): Fixture<T> {
  let value: T | undefined;
  let pending: Promise<T> | undefined;
  return {
    get(ctx) {
      if (value !== undefined) return Promise.resolve(value);
      pending ??= make(ctx).then((v) => {
        value = v;
        return v;
      });
      return pending;
    },
    adopt(v) {
      value = v;
      pending = undefined;
      return v;
    },
    peek: () => value,
    forget() {
      value = undefined;
      pending = undefined;
    },
  };
}

/**
 * A requirement's precondition "running, guest up": starts the VM if it is not running and waits
 * for its latest boot to report ready; a no-op on a VM an earlier requirement left running.
 */
export async function ensureRunning(ctx: ReqContext, vm: VmRef): Promise<void> {
  const d = ctx.t.driver;
  let n = boots(await d.guest(vm).read()).length;
  if ((await d.inspect(vm)).power !== 'running') {
    await d.start(vm);
    n += 1;
  }
  await waitGuest(ctx, vm, `boot ${Math.max(1, n)} ready`, bootNumber(Math.max(1, n)));
}

/** A requirement's precondition "stopped": stops the VM now unless it already is (a repeated stop may be refused). */
export async function ensureStopped(ctx: ReqContext, vm: VmRef): Promise<void> {
  if ((await ctx.t.driver.inspect(vm)).power !== 'stopped') await stopNow(ctx.t.driver, vm);
}

/**
 * A small raw disk image whose first line is `VMCIMG:<label>`: the guest reports a disk's first line,
 * so which image a VM booted is proven from inside it.
 */
export async function imageFile(dir: string, label: string): Promise<{ path: string; sha256: string }> {
  const path = join(dir, `${label}.raw`);
  const header = Buffer.from(`VMCIMG:${label}\n`);
  await writeFile(path, header);
  await truncate(path, 1024 * 1024);
  const content = Buffer.alloc(1024 * 1024);
  header.copy(content);
  return { path, sha256: createHash('sha256').update(content).digest('hex') };
}

/** sha256 of a file the harness holds (an export, an image source). */
export const fileSha256 = async (path: string) =>
  createHash('sha256')
    .update(await readFile(path))
    .digest('hex');

/**
 * A user-data loop over every disk the guest sees whose first 64 KiB are blank (a fresh data volume:
 * not the boot image, not a NoCloud ISO, not one already marked), with `$dev` its writable path. The
 * platform may choose disk serials (Cinder uses the volume id), so the script does not assume the
 * caller's name; the suite then reads the disk back by the serial inspection reports.
 * Serials come from virtio sysfs (VM guests), /vmc/disk (container guests) or `vmc-disk -l`.
 */
export function blankDisksUserData(body: string[]): string {
  return [
    '#!/bin/sh',
    'serials() { for b in /sys/block/vd*; do [ -e "$b/serial" ] && cat "$b/serial" && echo; done; ls /vmc/disk; vmc-disk -l; }',
    'for s in $(serials 2>/dev/null); do',
    '  dev=$(vmc-disk "$s" 20) || continue',
    `  [ -z "$(head -c 65536 "$dev" 2>/dev/null | tr -d '\\0')" ] || continue`,
    ...body.map((l) => `  ${l}`),
    'done',
    'sync',
    '',
  ].join('\n');
}

/**
 * User data that writes `VMCDATA:<boot id of the writing boot>` at the start of the blank data disk,
 * once: a later boot finds the marker and leaves it, so the boot id tells which boot wrote it. The boot
 * id is the one the guest reports (a container's or simulator's guest names its own: VMC_BOOT_ID or
 * /run/vmc/boot_id; a VM guest's is the kernel's).
 */
export function markerUserData(): string {
  return blankDisksUserData([
    // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion, not a template
    'id=${VMC_BOOT_ID:-$(cat /run/vmc/boot_id 2>/dev/null || cat /proc/sys/kernel/random/boot_id)}',
    'printf "VMCDATA:%s\\n" "$id" > "$dev"',
  ]);
}

/** The serial inspection reports for a VM's only data disk (the platform may have chosen it). */
export async function dataDiskSerial(ctx: ReqContext, vm: VmRef, checks: Checks): Promise<string> {
  const disks = (await ctx.t.driver.inspect(vm)).config.disks.filter((d) => d.role === 'data');
  return checks.need(
    'inspection shows the data disk with a serial',
    disks.length === 1 ? disks[0]?.serial : undefined,
    JSON.stringify(disks),
  );
}

/** The declared spec the suites use: small, one NIC, one data disk, ownership and placement metadata. */
export function baseSpec(run: Run, suffix: string, over: Partial<VmSpec> = {}): VmSpec {
  return {
    name: vmName(run, suffix),
    vcpus: 1,
    memoryMiB: 256,
    image: run.target.lab.image,
    disks: [],
    nics: [{ network: run.target.lab.network }],
    metadata: { tenant: 'acme', project: 'web', environment: 'test' },
    ...over,
  };
}

/** Waits until the guest's own report satisfies `pred`; the guest is the final witness. `driver`: another site's. */
export async function waitGuest<T>(
  ctx: ReqContext,
  vm: VmRef,
  what: string,
  pred: (r: GuestReport) => T | undefined,
  driver: Driver = ctx.t.driver,
): Promise<{ value: T; waitedMs: number }> {
  const probe = driver.guest(vm);
  let last: GuestReport | undefined;
  return waitFor(
    `guest of ${vm.name}: ${what}`,
    defaultWaitPolicies['guest-ready'],
    async () => {
      last = await probe.read();
      return pred(last);
    },
    { describeLast: () => JSON.stringify(last?.events.at(-1) ?? 'no guest output') },
  );
}

/** Waits for boot number `n` (1-based) to report READY and a first STATE. */
export const bootNumber = (n: number) => (r: GuestReport) => {
  const b = boots(r)[n - 1];
  return b && b.states.length > 0 ? b : undefined;
};

/** Subscribes to the platform's events for the length of a test. */
export function watchEvents(t: Target) {
  const ac = new AbortController();
  const events: PlatformEvent[] = [];
  let live = false;
  let failure: unknown;
  const subscribed = () => {
    live = true;
  };
  const done = (async () => {
    for await (const e of t.driver.events(ac.signal, subscribed)) events.push(e);
  })().catch((e: unknown) => {
    failure = e;
  });
  return {
    events,
    /**
     * Resolves once the platform's stream is live: a change made before it may go unseen, and then
     * the requirement would fail on the harness's haste, not on the platform.
     */
    ready: () =>
      waitFor('the event subscription to be live', defaultWaitPolicies.device, async () => {
        if (failure) throw failure;
        return live || undefined;
      }).then(() => undefined),
    /** Where the events seen so far end: pass it to next() to match only what a later call caused. */
    mark: () => events.length,
    next: (what: string, pred: (e: PlatformEvent) => boolean, since = 0) =>
      waitFor(
        `event: ${what}`,
        defaultWaitPolicies.device,
        async () => {
          const found = events.slice(since).find(pred);
          // A stream that broke says why, rather than wait out the deadline as if the platform were quiet.
          if (!found && failure) throw failure;
          return found;
        },
        {
          describeLast: () => events.at(-1)?.raw ?? 'no events',
        },
      ).then((r) => r.value),
    stop: async () => {
      ac.abort();
      await done;
    },
  };
}

/** The first line of the disk with this serial, as the guest read it in boot `n`, with that boot's id. */
export async function guestDisk(ctx: ReqContext, vm: VmRef, serial: string, n: number) {
  const { value: b } = await waitGuest(ctx, vm, `boot ${n} shows disk ${serial}`, (r) => {
    const boot = bootNumber(n)(r);
    const state = boot?.states.at(-1);
    const disk = state && diskBySerial(state, serial);
    // Wait until the user data's marker (if any) shows: the state loop re-reads disks every 0.5 s.
    return boot && disk?.hdr ? boot : undefined;
  });
  const state = b.states.at(-1);
  return { bootId: b.ready.bootId, hdr: state ? diskBySerial(state, serial)?.hdr : undefined, boot: b };
}
