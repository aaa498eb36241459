import { hash, verify } from '@node-rs/argon2';

/** Argon2id with the library's recommended parameters. */
export async function hashPassword(password: string): Promise<string> {
  return hash(password, { algorithm: 2 });
}

/** Constant-time verification against an argon2 hash; false on any malformed hash. */
export async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  try {
    return await verify(passwordHash, password);
  } catch {
    return false;
  }
}
