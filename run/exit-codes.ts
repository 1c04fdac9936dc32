/** vmconform's exit codes: each names who should look (documented in --help and the README). */
export const exitCodes = {
  /** Every selected requirement gave a verdict and none failed. */
  ok: 0,
  /** Requirements failed (or a run left objects behind): the platform's finding. */
  failed: 1,
  /** Bad input: a config, an option or a file; the message names the field. */
  badInput: 2,
  /** Harness or lab error: a platform unreachable, a lab that did not come up, a run that ran nothing. */
  harness: 3,
} as const;

/** Interrupted: 128 + the signal's number, as shells report it. */
export const signalExitCode = (signal: 'SIGINT' | 'SIGTERM'): number => (signal === 'SIGTERM' ? 143 : 130);

/** An evaluation's exit code: an interrupt wins, then a harness error (its verdicts cannot be trusted), then failures. */
export function evaluationExitCode(r: {
  signal?: 'SIGINT' | 'SIGTERM';
  harnessError: boolean;
  failed: boolean;
}): number {
  if (r.signal) return signalExitCode(r.signal);
  if (r.harnessError) return exitCodes.harness;
  return r.failed ? exitCodes.failed : exitCodes.ok;
}
