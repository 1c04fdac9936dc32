/**
 * Preflight: before a long run against a real cluster, what the credential may not do, what the
 * platform lacks, and which requirements would end without a verdict because of it. Each platform
 * checks its own (a descriptor's `preflight`); every platform gets the checks its capabilities imply.
 */

export interface PreflightCheck {
  /** What was checked, e.g. 'token privilege Sys.Audit on /' or 'Cinder API reachable'. */
  name: string;
  ok: boolean;
  /** What was found (the platform's own answer where there is one). */
  detail: string;
  /**
   * Requirement IDs that cannot give a verdict (end prereq-missing, or fail for a lab reason) when this
   * fails; a platform's check may write '*' for every automatable requirement and '!ID' to leave one out.
   */
  affects: string[];
}

export interface PreflightReport {
  platform: string;
  /** The endpoint checked (redacted like everything printed). */
  endpoint: string;
  checks: PreflightCheck[];
}
