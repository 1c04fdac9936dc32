/** Declared waits of the contract: every adapter and suite waits through these, never a bare sleep. */
export { defaultWaitPolicies, type WaitOperation, type WaitPolicy, waitFor } from '../../host/wait.js';
