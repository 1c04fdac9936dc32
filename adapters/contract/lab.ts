/** An embedded local lab `vmconform lab up|down|status NAME` manages (a platform's, or a further site's). */
export type { Say } from '../../host/host.js';

import type { Say } from '../../host/host.js';

export interface Lab {
  /** Idempotent: installs, starts only what is not running, records what it measured. */
  up(say: Say): Promise<unknown>;
  /** Removes owned leftovers, then stops exactly the processes `up` started. */
  down(say: Say, opts: { purge?: boolean }): Promise<void>;
  /** What `up` measured, or undefined when it never ran. */
  status(): Promise<unknown>;
}
