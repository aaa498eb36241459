import { backoffDelayMs } from '../polling-loop';

/** How the outbox dispatcher claims, retries and gives up. */
export interface RetryPolicy {
  /** Delay before the first retry; each further retry doubles it. */
  baseDelayMs: number;
  /** Cap on the delay between two attempts. */
  maxDelayMs: number;
  /** Attempts (sends tried) before a mail is marked failed. */
  maxAttempts: number;
  /** How long a claimed mail stays reserved for one dispatcher (a crashed one releases it by expiry). */
  leaseMs: number;
  /** Most mails one run delivers before yielding to the next tick. */
  batchSize: number;
}

/**
 * 5 s, 10 s, 20 s ... capped at 10 min; 12 attempts span about an hour of SMTP outage
 * (5+10+20+40+80+160+320 s, then 10 min five times) before a mail is marked failed.
 */
export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  baseDelayMs: 5_000,
  maxDelayMs: 10 * 60_000,
  maxAttempts: 12,
  leaseMs: 60_000,
  batchSize: 25,
};

/** The wait after the given number of failed attempts (1 = the first failure). */
export function retryDelayMs(failedAttempts: number, policy: RetryPolicy = DEFAULT_RETRY_POLICY): number {
  return backoffDelayMs(failedAttempts, policy.baseDelayMs, policy.maxDelayMs);
}

/**
 * SMTP replies that retrying cannot fix: the receiving server refused the recipient or the
 * message for good. Authentication (530, 535...) and storage (552) replies are not listed: an
 * operator can fix those, so they are retried.
 */
const PERMANENT_SMTP_CODES = new Set([501, 550, 551, 553, 554, 555]);

export function isPermanentFailure(err: unknown): boolean {
  const code = (err as { responseCode?: unknown } | undefined)?.responseCode;
  return typeof code === 'number' && PERMANENT_SMTP_CODES.has(code);
}

const MAX_ERROR_LENGTH = 200;

/**
 * A short description of a send failure, safe to store and log: the error code, the SMTP reply
 * code and the first line of the message, with any credentials of a URL removed.
 */
export function describeSendError(err: unknown): string {
  const e = (err ?? {}) as { code?: unknown; responseCode?: unknown; message?: unknown };
  const parts: string[] = [];
  if (typeof e.code === 'string' && /^[A-Z0-9_]{1,40}$/i.test(e.code)) {
    parts.push(e.code);
  }
  if (typeof e.responseCode === 'number') {
    parts.push(String(e.responseCode));
  }
  const raw = typeof e.message === 'string' && e.message !== '' ? e.message : 'unknown error';
  const firstLine = raw.split(/\r?\n/)[0];
  const cleaned = firstLine.replace(/\/\/[^/\s@]*@/g, '//[redacted]@').replace(/(auth|pass(word)?)[=:]\s*\S+/gi, '$1=[redacted]');
  const text = parts.length > 0 ? `${parts.join(' ')}: ${cleaned}` : cleaned;
  return text.length > MAX_ERROR_LENGTH ? `${text.slice(0, MAX_ERROR_LENGTH - 1)}…` : text;
}
