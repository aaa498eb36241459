import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { hash, verify, type Options } from '@node-rs/argon2';
import type { FastifyBaseLogger } from 'fastify';
import type { Database } from '../db/database';
import { badRequest } from '../errors';
import commonPasswordList from './common-passwords.json';
import { replacePasswordHash } from './credentials';

// --- Password hashing ---------------------------------------------------------------------------

/**
 * The one set of argon2 parameters every password hash is made with: argon2id, 19 MiB of memory,
 * 2 passes, 1 lane, the minimum row of the OWASP Password Storage Cheat Sheet. Written out, not
 * left to the library's defaults (those changed between its releases: 4 MiB and 3 passes before).
 * A stored hash made with weaker parameters is re-hashed at the next successful sign-in.
 */
export const PASSWORD_HASH_PARAMS = Object.freeze({
  /** argon2id (the library's `Algorithm.Argon2id`, a const enum). */
  algorithm: 2,
  /** KiB: 19 MiB. */
  memoryCost: 19_456,
  timeCost: 2,
  parallelism: 1,
} satisfies Options);

/** Argon2id with PASSWORD_HASH_PARAMS, as a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`). */
export async function hashPassword(password: string): Promise<string> {
  return hash(password, { ...PASSWORD_HASH_PARAMS });
}

/** Constant-time verification against an argon2 hash; false on any malformed hash. */
export async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  try {
    return await verify(passwordHash, password);
  } catch {
    return false;
  }
}

export interface HashParams {
  variant: string;
  version: number;
  memoryCost: number;
  timeCost: number;
  parallelism: number;
}

const PHC = /^\$(argon2(?:id|i|d))\$v=(\d+)\$m=(\d+),t=(\d+),p=(\d+)\$/;

/** The parameters of an argon2 PHC string, or undefined when it is not one. */
export function parseHashParams(passwordHash: string): HashParams | undefined {
  const match = PHC.exec(passwordHash);
  if (!match) {
    return undefined;
  }
  const [, variant, version, m, t, p] = match;
  return { variant, version: Number(version), memoryCost: Number(m), timeCost: Number(t), parallelism: Number(p) };
}

/**
 * Whether a stored hash is weaker than PASSWORD_HASH_PARAMS (another argon2 variant or version,
 * less memory or fewer passes, or not an argon2 PHC string at all) and should be replaced by a
 * hash of the same password made now. A hash with stronger parameters is kept.
 */
export function needsRehash(passwordHash: string): boolean {
  const params = parseHashParams(passwordHash);
  return (
    !params ||
    params.variant !== 'argon2id' ||
    params.version !== 19 ||
    params.memoryCost < PASSWORD_HASH_PARAMS.memoryCost ||
    params.timeCost < PASSWORD_HASH_PARAMS.timeCost
  );
}

/**
 * After a successful sign-in with `password` against `storedHash`: when that hash was made with
 * weaker parameters than PASSWORD_HASH_PARAMS, stores a new hash of the same password. The write
 * is guarded on the old hash, so a password changed meanwhile is never overwritten. A failure is
 * logged (without secrets) and never fails the sign-in: the old hash still works.
 */
export async function upgradePasswordHash(
  deps: { database: Database; log: FastifyBaseLogger },
  userId: string,
  storedHash: string,
  password: string,
): Promise<boolean> {
  if (!needsRehash(storedHash)) {
    return false;
  }
  try {
    return await replacePasswordHash(deps.database, userId, storedHash, await hashPassword(password));
  } catch (err) {
    deps.log.warn({ userId, err: (err as Error).name }, 'could not re-hash a password with the current argon2 parameters');
    return false;
  }
}

// --- Password policy ----------------------------------------------------------------------------

export const MIN_PASSWORD_LENGTH = 8;
/** argon2 takes more, but bcrypt-compatible clients and our contract stop at 72 bytes. */
export const MAX_PASSWORD_BYTES = 72;

/**
 * Passwords seen most often in breaches and guessing lists (lower-case), shipped with the
 * server: no network is needed to refuse them. The list is data (common-passwords.json).
 */
export const COMMON_PASSWORDS: ReadonlySet<string> = new Set((commonPasswordList as string[]).map((p) => p.toLowerCase()));

/** Digits and punctuation people tack onto a common word ("monkey2024!"). */
const DECORATION = /[\d\s!@#$%^&*().,?_+=~-]{1,6}$/;

/**
 * Why a password is refused, or undefined when it is acceptable. Rules (NIST SP 800-63B
 * style): 8 characters to 72 bytes, not a common password, not a common password with a
 * few digits or symbols appended or prepended, not one repeated character.
 */
export function passwordProblem(password: string): string | undefined {
  if ([...password].length < MIN_PASSWORD_LENGTH) {
    return `The password is too short: use at least ${MIN_PASSWORD_LENGTH} characters`;
  }
  if (Buffer.byteLength(password, 'utf8') > MAX_PASSWORD_BYTES) {
    return `The password is too long: use at most ${MAX_PASSWORD_BYTES} bytes (about ${MAX_PASSWORD_BYTES} letters)`;
  }
  const lower = password.toLowerCase();
  if (/^(.)\1*$/su.test(lower)) {
    return 'The password is one character repeated: choose something harder to guess';
  }
  if (isCommon(lower)) {
    return 'This password is too common and easy to guess: choose another one';
  }
  return undefined;
}

function isCommon(lower: string): boolean {
  if (COMMON_PASSWORDS.has(lower)) {
    return true;
  }
  const stripped = lower.replace(DECORATION, '');
  const core = stripped.replace(/^[\d\s!@#$%^&*().,?_+=~-]{1,4}/, '');
  return [stripped, core].some((c) => c.length >= 4 && c !== lower && COMMON_PASSWORDS.has(c));
}

/** Throws a 400 naming `password` when the password breaks the policy. */
export function assertPasswordAcceptable(password: string): void {
  const problem = passwordProblem(password);
  if (problem) {
    throw badRequest(problem, 'password');
  }
}

// --- High-entropy secrets (codes, refresh and client secrets, activation links) ------------------

/** A random URL-safe secret of `bytes` bytes of entropy (base64url). */
export function randomSecret(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

/** SHA-256 as hex: how high-entropy secrets (codes, refresh and client secrets) are stored. */
export function sha256Hex(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

/** Constant-time comparison of two strings (false when the lengths differ). */
export function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/** Whether `secret` hashes (SHA-256) to `expectedHash`, compared in constant time. */
export function matchesHash(secret: string, expectedHash: string | undefined): boolean {
  return expectedHash !== undefined && safeEqual(sha256Hex(secret), expectedHash);
}
