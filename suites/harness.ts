/**
 * What every conformance suite uses: the target for this run, requirement-tagged tests whose
 * outcome becomes a verdict, timings, cleanup of what a suite created, and guest-side waits.
 */
import { mkdir, writeFile } from 'node:fs/promises';
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
} from '../adapters/driver.js';
import { newRunId, platforms } from '../adapters/driver.js';
import { boots, type GuestReport } from '../adapters/guest/console.js';
import { connectTarget } from '../adapters/registry.js';
import { defaultWaitPolicies, waitFor } from '../adapters/wait.js';
import { loadLabConfig } from '../lab/config.js';
import type { TimelineEntry } from '../reports/bundle.js';
import { redact } from '../reports/redact.js';
import type { TestEvidence, Timing } from '../reports/results.js';
import { Transcript } from '../reports/transcript.js';
import type { RequirementOutcome } from '../reports/verdict.js';
import { Checks } from './checks.js';
import type { RequirementId } from './requirements.js';

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
    if (!platforms.includes(platform))
      throw new Error(`VMCONFORM_PLATFORM=${platform}: expected one of ${platforms.join(', ')}`);
    const runId = process.env.VMCONFORM_RUN_ID ?? newRunId();
    const { config, hash } = await loadLabConfig(process.env.VMCONFORM_CONFIG ?? 'lab/lab.local.yaml');
    const transcript = new Transcript();
    const timeline: TimelineEntry[] = [];
    const connected = await connectTarget(platform, config, { runId, transcript });
    const target: Target = { ...connected, driver: recordTimeline(connected.driver, timeline) };
    const caps = await target.driver.capabilities();
    const outDir = process.env.VMCONFORM_OUT ?? join(config.outputDir, runId, platform);
    await mkdir(outDir, { recursive: true });
    const [info, hosts] = await Promise.all([target.driver.platformInfo(), target.driver.hosts()]);
    await writeFile(
      join(outDir, 'platform.json'),
      JSON.stringify(redact({ info, hosts, capabilities: caps, configHash: hash }), null, 2),
    );
    return { target, caps, transcript, timeline, outDir };
  })();
  return runPromise;
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

const inconclusive = new Set(['unsupported', 'partial', 'prereq-missing', 'not-implemented']);

/**
 * A conformance test for one or more requirement IDs. Verdict mapping to the test runner:
 * pass passes; fail and error fail; unsupported, partial, prereq-missing and not-implemented are
 * reported as skipped with their reason (never counted as passed). The verdict itself goes to evidence.
 */
export function requirement(ids: RequirementId[], title: string, fn: (ctx: ReqContext) => Promise<void>): void {
  test(`${ids.join(' ')}: ${title}`, async ({ task, skip }) => {
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
    try {
      await fn(ctx);
      outcome = checks.outcome();
    } catch (e) {
      outcome = checks.outcomeFromError(e);
    }
    if (outcome.verdict === 'pass' && run.caps.evidence === 'simulated') {
      outcome = {
        verdict: 'simulated',
        reasonCode: 'simulator',
        reason: 'Passed against a simulator: proves the adapter, not the platform.',
      };
    }
    task.meta.vmconform = redact({
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
    });
    if (outcome.verdict === 'fail' || outcome.verdict === 'error')
      throw new Error(`${outcome.verdict}: ${outcome.reason}`);
    if (inconclusive.has(outcome.verdict)) skip(`${outcome.verdict}: ${outcome.reason}`);
  });
}

/**
 * VMs (and detached volumes) a suite file created; deleted after the file whatever happened, VMs
 * first so no volume is removed under a VM, so nothing leaks.
 */
export function ownedVms(): {
  create(ctx: ReqContext, spec: VmSpec): Promise<VmRef>;
  all: VmRef[];
  keepVolume(id: string): void;
} {
  const all: VmRef[] = [];
  const volumes: string[] = [];
  afterAll(async () => {
    const run = await currentRun();
    for (const vm of all.splice(0)) await run.target.driver.delete(vm).catch(() => undefined);
    for (const id of volumes.splice(0)) await run.target.driver.deleteVolume(id).catch(() => undefined);
  });
  return {
    all,
    keepVolume: (id) => void volumes.push(id),
    async create(ctx, spec) {
      const r = await ctx.time('create', ctx.t.driver.create(spec));
      all.push(r.result);
      return r.result;
    },
  };
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

/** Waits until the guest's own report satisfies `pred`; the guest is the final witness. */
export async function waitGuest<T>(
  ctx: ReqContext,
  vm: VmRef,
  what: string,
  pred: (r: GuestReport) => T | undefined,
): Promise<{ value: T; waitedMs: number }> {
  const probe = ctx.t.driver.guest(vm);
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
  const done = (async () => {
    for await (const e of t.driver.events(ac.signal)) events.push(e);
  })().catch(() => undefined);
  return {
    events,
    next: (what: string, pred: (e: PlatformEvent) => boolean) =>
      waitFor(`event: ${what}`, defaultWaitPolicies.device, async () => events.find(pred), {
        describeLast: () => events.at(-1)?.raw ?? 'no events',
      }).then((r) => r.value),
    stop: async () => {
      ac.abort();
      await done;
    },
  };
}
