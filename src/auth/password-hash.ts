import { hash, verify, type Options } from '@node-rs/argon2';

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
