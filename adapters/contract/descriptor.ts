/**
 * A platform registers once, with one descriptor exported by its folder: its name, its config section's
 * schema, how to connect, its local labs, and its direct baseline for the bench (its manual assessments are reports/assessments/<name>.yaml).
 * The platform list, the lab config schema, the lab list and the bench are derived from descriptors.
 */
import type { z } from 'zod';
import type { Transcript } from '../../evidence/transcript.js';
import { defaultWaitPolicies } from '../../host/wait.js';
import type { Lab, Say } from './lab.js';
import type { PreflightCheck } from './preflight.js';
import type { Target } from './target.js';

export interface ConnectOptions {
  runId: string;
  transcript: Transcript;
  log?: Say;
}

/**
 * The same lifecycle done without vmconform (plain CLI or raw REST, the same request bodies, state
 * check and polling), for the bench's overhead ratio.
 */
export interface DirectBaseline {
  /** What the direct sequence uses, e.g. 'plain virsh', shown beside the ratio. */
  label: string;
  /** One whole lifecycle (create, start, running, guest READY, graceful stop, delete); its wall time in ms. */
  run(name: string): Promise<number>;
}

/** Both the direct sequence and the harness's are polled at this interval, so the ratio compares like with like. */
export const directPoll = { ...defaultWaitPolicies['guest-ready'], intervalMs: 100, backoff: 1, maxIntervalMs: 100 };

export interface PlatformDescriptor<Name extends string = string, Schema extends z.ZodType = z.ZodType> {
  name: Name;
  /** The `platforms.<name>` section of the lab config; every field has a default or is required here. */
  configSchema: Schema;
  connect(section: z.output<Schema>, opts: ConnectOptions): Promise<Target>;
  /** Local labs this platform brings, by name; the first is the platform's own (same name). */
  labs?: Record<string, () => Promise<Lab>>;
  /** Further local labs a config section asks for beyond the platform's own (e.g. a second site). */
  labsFor?(section: z.output<Schema>): string[];
  /**
   * For the bench: the direct sequence, or why there is none on this target (a remote host, a simulator
   * that would only measure itself). `labState` is what the platform's own lab recorded, if it ran.
   */
  directBaseline?(ctx: {
    section: z.output<Schema>;
    target: Target;
    runId: string;
    labState: unknown;
    /** Where a direct sequence that does not go through the driver records its calls, so the bench can count them. */
    transcript?: Transcript;
  }): DirectBaseline | string | Promise<DirectBaseline | string>;
  /**
   * Platform-specific preflight checks against a connected target (privileges, versions, services,
   * storages, templates); the generic ones (connection, capabilities' missing prerequisites) run for all.
   */
  preflight?(ctx: { section: z.output<Schema>; target: Target }): Promise<PreflightCheck[]>;
}

/** Keeps the literal name and schema types of a descriptor. */
export const definePlatform = <Name extends string, Schema extends z.ZodType>(
  d: PlatformDescriptor<Name, Schema>,
): PlatformDescriptor<Name, Schema> => d;
