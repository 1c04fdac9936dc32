/**
 * Pure parsing of Incus operations and error envelopes: operation ids, finished operations and
 * error texts into typed errors, operations into task info. No I/O; unit-tested on recorded payloads.
 */
import {
  AuthFailed,
  Conflict,
  NotFound,
  PlatformError,
  PrereqMissing,
  type TaskInfo,
  Unsupported,
  type VmconformError,
} from '../contract/index.js';

export interface IncusOperation {
  id: string;
  class?: string;
  description?: string;
  created_at?: string;
  updated_at?: string;
  status: string;
  status_code: number;
  resources?: Record<string, string[]> | null;
  metadata?: Record<string, unknown> | null;
  may_cancel?: boolean;
  err?: string;
}

/** "/1.0/operations/<uuid>" (async envelope) or an operation object: the operation UUID. */
export function operationIdOf(body: unknown): string | undefined {
  const b = body as { type?: string; operation?: string; metadata?: { id?: string } } | undefined;
  if (b?.type !== 'async') return undefined;
  return b.operation?.split('/').pop() || b.metadata?.id;
}

/** Incus reports errors as free text plus an HTTP-like code; the text is kept verbatim. */
export function classifyIncusError(message: string, code: number, what: string): VmconformError {
  const msg = `incus: ${what} failed: ${message}`;
  if (code === 401 || code === 403 || /not authorized|forbidden|certificate.*(not trusted|unknown)/i.test(message))
    return new AuthFailed(msg);
  if (
    /vhost_vsock|KVM support is missing|kvm.*not available|Instance type "virtual-machine" is not supported/i.test(
      message,
    )
  )
    return new PrereqMissing(msg);
  if (/cannot be used on containers|not supported by|isn't supported|is not supported/i.test(message))
    return new Unsupported(msg, 'platform');
  if (code === 404 || /not found|no such/i.test(message)) return new NotFound(msg);
  if (
    code === 409 ||
    /already (running|stopped|exists|in use)|is not running|instance is running|is currently running|in use by|already been taken|UNIQUE constraint failed: instances\./i.test(
      message,
    )
  )
    return new Conflict(msg);
  return new PlatformError(msg, code ? `incus-${code}` : 'incus-error', message);
}

/** An error envelope ({type: 'error', error, error_code}) from any HTTP status. */
export function incusErrorFromResponse(status: number, body: unknown, what: string): VmconformError {
  const b = body as { type?: string; error?: string; error_code?: number } | string | undefined;
  if (typeof b === 'object' && b?.type === 'error')
    return classifyIncusError(b.error ?? '', b.error_code ?? status, what);
  return classifyIncusError(typeof b === 'string' ? b.slice(0, 500) : JSON.stringify(b), status, what);
}

/** A finished operation: undefined on success, a typed error on failure (the /wait answer is HTTP 200 either way). */
export function operationError(op: IncusOperation, what: string): VmconformError | undefined {
  if (op.status_code === 200 || op.status === 'Success') return undefined;
  if (op.status === 'Failure' || op.status_code === 400)
    return classifyIncusError(op.err || 'operation failed without a message', 0, what);
  if (op.status === 'Cancelled' || op.status_code === 401)
    return new PlatformError(`incus: ${what}: operation ${op.id} was cancelled`, 'incus-cancelled', op.err ?? '');
  // Still running after the wait timeout.
  return new PlatformError(`incus: ${what}: operation ${op.id} still ${op.status}`, 'incus-running', op.status);
}

/**
 * The answer of GET /1.0/operations/<id>/wait: HTTP 200 in every case. A failed operation comes back
 * either as an error envelope (type 'error', error_code 400, the operation's message) or as the
 * operation itself with status Failure; both become the same typed error.
 */
export function waitError(
  body: { type?: string; error?: string; error_code?: number; metadata?: IncusOperation | null },
  what: string,
): VmconformError | undefined {
  if (body.type === 'error')
    return classifyIncusError(body.error ?? '', body.error_code === 400 ? 0 : (body.error_code ?? 0), what);
  if (!body.metadata)
    return new PlatformError(`incus: ${what}: /wait answered without an operation`, 'incus-empty-wait', '');
  return operationError(body.metadata, what);
}

export function toTaskInfo(op: IncusOperation): TaskInfo {
  const status = op.status_code === 200 ? 'succeeded' : op.status_code >= 400 ? 'failed' : 'running';
  return {
    handle: { kind: 'operation', id: op.id },
    status,
    ...(op.created_at ? { startedAt: op.created_at } : {}),
    ...(status !== 'running' && op.updated_at ? { endedAt: op.updated_at } : {}),
    ...(op.err ? { error: op.err } : {}),
  };
}
