import { badRequest } from '../errors';
import { COMMON_PASSWORDS } from './common-passwords';

export const MIN_PASSWORD_LENGTH = 8;
/** argon2 takes more, but bcrypt-compatible clients and our contract stop at 72 bytes. */
export const MAX_PASSWORD_BYTES = 72;

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
