/**
 * Colour for the vitest child: a caller's FORCE_COLOR or NO_COLOR passes through as given; otherwise
 * colour only on a terminal (vitest colours whenever FORCE_COLOR is set at all, even to 0, so it is left
 * unset for a log file or CI). What this returns is added to the inherited environment.
 */
export function colourEnv(env: NodeJS.ProcessEnv, terminal: boolean): { FORCE_COLOR?: string } {
  return terminal && env.FORCE_COLOR === undefined && env.NO_COLOR === undefined ? { FORCE_COLOR: '1' } : {};
}
