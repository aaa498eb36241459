import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

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
