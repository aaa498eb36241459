import { timingSafeEqual } from 'node:crypto';
import speakeasy from 'speakeasy';

/**
 * TOTP (RFC 6238) as authenticator apps do it: SHA-1, 6 digits, 30-second steps. A code is
 * accepted one step early or late (window 1) to absorb clock drift.
 */
export const TOTP_STEP_SECONDS = 30;
export const TOTP_DIGITS = 6;
export const TOTP_WINDOW = 1;
export const TOTP_ISSUER = 'fhir-invite-server';

/** A new random secret, base32 (160 bits, the size RFC 4226 recommends). */
export function generateTotpSecret(): string {
  return speakeasy.generateSecret({ length: 20 }).base32;
}

/** The otpauth:// URI an authenticator app scans: it carries the secret. */
export function totpUri(secret: string, accountName: string, issuer = TOTP_ISSUER): string {
  return speakeasy.otpauthURL({
    secret,
    encoding: 'base32',
    label: `${encodeURIComponent(issuer)}:${encodeURIComponent(accountName)}`,
    issuer,
    algorithm: 'sha1',
    digits: TOTP_DIGITS,
    period: TOTP_STEP_SECONDS,
  });
}

/** The time step (counter) of an instant. */
export function totpStep(now: Date): number {
  return Math.floor(now.getTime() / 1000 / TOTP_STEP_SECONDS);
}

/** The code for a given step (tests and tools). */
export function totpCode(secret: string, step: number): string {
  return speakeasy.hotp({ secret, encoding: 'base32', counter: step, digits: TOTP_DIGITS, algorithm: 'sha1' });
}

/**
 * The time step whose code `token` is, within the window around `now` and strictly after
 * `lastStep` (a code already used is refused), or undefined when it matches none.
 */
export function matchTotp(secret: string, token: string, now: Date, lastStep?: number): number | undefined {
  if (!/^\d{6}$/.test(token)) {
    return undefined;
  }
  const current = totpStep(now);
  let matched: number | undefined;
  for (let step = current - TOTP_WINDOW; step <= current + TOTP_WINDOW; step++) {
    // Compare every candidate (no early exit) so timing says nothing about which one matched.
    const equal = timingSafeEqual(Buffer.from(totpCode(secret, step)), Buffer.from(token));
    if (equal && (lastStep === undefined || step > lastStep) && matched === undefined) {
      matched = step;
    }
  }
  return matched;
}

/** Whether `token` is a valid code for some step in the window, used or not (to tell a replay apart). */
export function isTotpInWindow(secret: string, token: string, now: Date): boolean {
  return matchTotp(secret, token, now) !== undefined;
}
