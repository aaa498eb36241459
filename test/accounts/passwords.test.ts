import { hash } from '@node-rs/argon2';
import { CREDENTIALS } from '../../src/accounts/credentials';
import { hashPassword, needsRehash, parseHashParams, PASSWORD_HASH_PARAMS, verifyPassword } from '../../src/accounts/passwords';
import { signIn } from '../helpers/auth';
import { createLink, createMember, createUser } from '../helpers/activation';
import { useTestApp } from '../helpers/suite';

/** OWASP Password Storage Cheat Sheet, argon2id, its minimum row. */
const OWASP_MIN = { memoryCost: 19_456, timeCost: 2, parallelism: 1 };

/** What @node-rs/argon2 1.x produced by default (and what older servers stored). */
const OLD_PARAMS = { algorithm: 2, memoryCost: 4096, timeCost: 3, parallelism: 1 } as const;

describe('password hash parameters', () => {
  test('one constant, argon2id, at least the OWASP minimum', () => {
    expect(PASSWORD_HASH_PARAMS.algorithm).toBe(2);
    expect(PASSWORD_HASH_PARAMS.memoryCost).toBeGreaterThanOrEqual(OWASP_MIN.memoryCost);
    expect(PASSWORD_HASH_PARAMS.timeCost).toBeGreaterThanOrEqual(OWASP_MIN.timeCost);
    expect(PASSWORD_HASH_PARAMS.parallelism).toBeGreaterThanOrEqual(OWASP_MIN.parallelism);
    expect(Object.isFrozen(PASSWORD_HASH_PARAMS)).toBe(true);
  });

  test('hashPassword writes those parameters into the PHC string', async () => {
    const stored = await hashPassword('a long and unusual passphrase');
    const { memoryCost, timeCost, parallelism } = PASSWORD_HASH_PARAMS;
    expect(parseHashParams(stored)).toEqual({ variant: 'argon2id', version: 19, memoryCost, timeCost, parallelism });
    expect(stored).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    expect(needsRehash(stored)).toBe(false);
  });

  test.each([
    ['the old library defaults (4 MiB, t=3)', '$argon2id$v=19$m=4096,t=3,p=1$c2FsdHNhbHQ$aGFzaA'],
    ['fewer passes', '$argon2id$v=19$m=19456,t=1,p=1$c2FsdHNhbHQ$aGFzaA'],
    ['argon2i', '$argon2i$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA'],
    ['argon2d', '$argon2d$v=19$m=65536,t=3,p=1$c2FsdHNhbHQ$aGFzaA'],
    ['version 0x10', '$argon2id$v=16$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA'],
    ['not a PHC string', 'plain-text-or-bcrypt'],
  ])('%s needs a re-hash', (_name, stored) => {
    expect(needsRehash(stored)).toBe(true);
  });

  test('stronger parameters are kept', () => {
    expect(needsRehash('$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaA')).toBe(false);
  });
});

describe('re-hash on sign-in and on set-password', () => {
  const t = useTestApp();
  const credentials = () => t.app.ctx.database.db.collection<{ _id: string; passwordHash?: string }>(CREDENTIALS);
  const storedHash = async (userId: string) => (await credentials().findOne({ _id: userId }))?.passwordHash as string;
  const setStoredHash = (userId: string, passwordHash: string) => credentials().updateOne({ _id: userId }, { $set: { passwordHash } });

  test('a user whose stored hash has the old parameters signs in; the hash is then re-made with the new ones', async () => {
    const member = await createMember(t.app);
    const userId = member.user.id as string;
    const old = await hash(member.password, OLD_PARAMS);
    await setStoredHash(userId, old);
    expect(parseHashParams(old)).toMatchObject({ memoryCost: 4096, timeCost: 3 });

    // A wrong password changes nothing.
    await expect(signIn(t.app, member.email, 'not the password at all')).rejects.toThrow(/login failed: 400/);
    expect(await storedHash(userId)).toBe(old);

    await signIn(t.app, member.email, member.password);
    const upgraded = await storedHash(userId);
    expect(upgraded).not.toBe(old);
    expect(parseHashParams(upgraded)).toMatchObject({ variant: 'argon2id', memoryCost: PASSWORD_HASH_PARAMS.memoryCost, timeCost: PASSWORD_HASH_PARAMS.timeCost });
    expect(await verifyPassword(upgraded, member.password)).toBe(true);

    // The same password still works, and a current hash is not re-made again.
    await signIn(t.app, member.email, member.password);
    expect(await storedHash(userId)).toBe(upgraded);
  });

  test('parallel sign-ins with an old hash all succeed and leave one valid current hash', async () => {
    const member = await createMember(t.app);
    const userId = member.user.id as string;
    await setStoredHash(userId, await hash(member.password, OLD_PARAMS));
    await Promise.all([1, 2, 3].map(() => signIn(t.app, member.email, member.password)));
    const after = await storedHash(userId);
    expect(needsRehash(after)).toBe(false);
    expect(await verifyPassword(after, member.password)).toBe(true);
  });

  test('setting a password through an activation link stores the current parameters', async () => {
    const user = await createUser(t.app);
    await setStoredHash(user.id as string, await hash('the previous passphrase', OLD_PARAMS));
    const link = await createLink(t.app, user.id as string, 'reset');
    const res = await t.app.inject({ method: 'POST', url: '/auth/setpassword', payload: { id: link.id, secret: link.secret, password: 'a brand new passphrase' } });
    expect(res.statusCode).toBe(200);
    expect(needsRehash(await storedHash(user.id as string))).toBe(false);
  });

  test('the dummy hash for unknown emails uses the same parameters (same verify cost)', async () => {
    const dummy = await t.app.ctx.auth.dummyPasswordHash();
    expect(parseHashParams(dummy)).toEqual(parseHashParams(await hashPassword('anything')));
  });
});
