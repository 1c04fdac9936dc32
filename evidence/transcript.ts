import { redactText } from './redact.js';

/** One exchange with the platform: a command run or an HTTP request, as the evidence shows it. */
export interface TranscriptEntry {
  seq: number;
  at: string;
  kind: 'command' | 'http';
  /** argv joined, or 'METHOD path'. Secrets redacted. */
  request: string;
  /** Truncated response body or output. Secrets redacted. */
  response: string;
  ok: boolean;
  durationMs: number;
  /** The platform's own task/operation/request id, when it gave one. */
  taskId?: string | null;
  error?: string;
}

const maxResponseChars = 4_000;

/** Append-only log of platform exchanges; suites slice it per test so logs never interleave. */
export class Transcript {
  private readonly entries: TranscriptEntry[] = [];

  record(e: Omit<TranscriptEntry, 'seq' | 'at'>): TranscriptEntry {
    const response = redactText(e.response);
    const entry: TranscriptEntry = {
      ...e,
      request: redactText(e.request),
      response: response.length > maxResponseChars ? `${response.slice(0, maxResponseChars)}…[truncated]` : response,
      error: e.error === undefined ? undefined : redactText(e.error),
      seq: this.entries.length,
      at: new Date().toISOString(),
    };
    this.entries.push(entry);
    return entry;
  }

  get length(): number {
    return this.entries.length;
  }

  since(mark: number): TranscriptEntry[] {
    return this.entries.slice(mark);
  }
}
