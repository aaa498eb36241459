import type { User } from '@medplum/fhirtypes';
import { ACTIVATIONS, type ActivationDoc } from '../../src/accounts/activation';
import { CREDENTIALS } from '../../src/accounts/credentials';
import { verifyPassword } from '../../src/accounts/passwords';
import { readResource } from '../../src/fhir/repository';
import { snapshotDatabase, TestClock } from '../helpers/app';
import { useTestApp } from '../helpers/suite';
import { repoOf } from '../helpers/fixtures';
import { createLink, createUser } from '../helpers/activation';

const GOOD_PASSWORD = 'plum tree under moonlight';

describe('POST /auth/setpassword', () => {
  const clock = new TestClock();
  const t = useTestApp({ clock });

  const setPassword = (body: Record<string, unknown>) => t.app.inject({ method: 'POST', url: '/auth/setpassword', payload: body });
  const activation = (id: string) => t.app.ctx.database.db.collection<ActivationDoc>(ACTIVATIONS).findOne({ _id: id });
  const credentials = (userId: string) => t.app.ctx.database.db.collection<{ _id: string; passwordHash?: string }>(CREDENTIALS).findOne({ _id: userId });

  test('a valid link sets the password, verifies the email and is used up', async () => {
    const user = await createUser(t.app);
    const link = await createLink(t.app, user.id as string);
    const res = await setPassword({ id: link.id, secret: link.secret, password: GOOD_PASSWORD });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ severity: 'information' }] });
    expect(res.body).not.toContain(link.secret);

    const creds = await credentials(user.id as string);
    expect(await verifyPassword(creds?.passwordHash as string, GOOD_PASSWORD)).toBe(true);
    expect(res.body).not.toContain(creds?.passwordHash as string);
    const stored = await readResource<User>(repoOf(t.app), 'User', user.id as string);
    expect(stored.emailVerified).toBe(true);
    expect(stored).not.toHaveProperty('passwordHash');
    expect((await activation(link.id))?.usedAt).toEqual(clock.now());
  });

  test('a used link is refused and changes nothing', async () => {
    const user = await createUser(t.app);
    const link = await createLink(t.app, user.id as string);
    expect((await setPassword({ id: link.id, secret: link.secret, password: GOOD_PASSWORD })).statusCode).toBe(200);
    const before = await snapshotDatabase(t.app);
    const again = await setPassword({ id: link.id, secret: link.secret, password: 'another fine passphrase' });
    expect(again.statusCode).toBe(400);
    expect(again.json().issue[0]).toMatchObject({ expression: ['id'] });
    expect(again.json().issue[0].details.text).toMatch(/already used/);
    expect(await snapshotDatabase(t.app)).toEqual(before);
  });

  test('a wrong secret is refused without telling anything else', async () => {
    const user = await createUser(t.app);
    const link = await createLink(t.app, user.id as string);
    const before = await snapshotDatabase(t.app);
    const res = await setPassword({ id: link.id, secret: `${link.secret.slice(0, -2)}xx`, password: GOOD_PASSWORD });
    expect(res.statusCode).toBe(400);
    expect(res.json().issue[0]).toMatchObject({ expression: ['secret'] });
    expect(res.json().issue[0].details.text).toMatch(/not valid/);
    expect(await snapshotDatabase(t.app)).toEqual(before);
    // Even a used link answers "not valid" to a wrong secret: its state is not revealed.
    expect((await setPassword({ id: link.id, secret: link.secret, password: GOOD_PASSWORD })).statusCode).toBe(200);
    const probe = await setPassword({ id: link.id, secret: 'x'.repeat(43), password: GOOD_PASSWORD });
    expect(probe.json().issue[0].details.text).toMatch(/not valid/);
  });

  test('an unknown id is refused naming the id', async () => {
    const res = await setPassword({ id: 'no-such-request', secret: 'x'.repeat(43), password: GOOD_PASSWORD });
    expect(res.statusCode).toBe(400);
    expect(res.json().issue[0]).toMatchObject({ expression: ['id'] });
  });

  test('an expired link is refused; just before expiry it works', async () => {
    const user = await createUser(t.app);
    const expired = await createLink(t.app, user.id as string);
    const ttl = t.config.activationTtlMs;
    clock.advance(ttl + 1000);
    const before = await snapshotDatabase(t.app);
    const res = await setPassword({ id: expired.id, secret: expired.secret, password: GOOD_PASSWORD });
    expect(res.statusCode).toBe(400);
    expect(res.json().issue[0].details.text).toMatch(/expired/);
    expect(await snapshotDatabase(t.app)).toEqual(before);

    const fresh = await createLink(t.app, user.id as string);
    clock.advance(ttl - 1000);
    expect((await setPassword({ id: fresh.id, secret: fresh.secret, password: GOOD_PASSWORD })).statusCode).toBe(200);
  });

  test('a link superseded by a newer one is refused; the newer one works', async () => {
    const user = await createUser(t.app);
    const older = await createLink(t.app, user.id as string);
    const newer = await createLink(t.app, user.id as string);
    const res = await setPassword({ id: older.id, secret: older.secret, password: GOOD_PASSWORD });
    expect(res.statusCode).toBe(400);
    expect(res.json().issue[0].details.text).toMatch(/newer link/);
    expect((await setPassword({ id: newer.id, secret: newer.secret, password: GOOD_PASSWORD })).statusCode).toBe(200);
  });

  test('using one link ends the other outstanding links of the user (e.g. a reset after an invite)', async () => {
    const user = await createUser(t.app);
    const invite = await createLink(t.app, user.id as string, 'invite');
    const reset = await createLink(t.app, user.id as string, 'reset');
    expect((await setPassword({ id: reset.id, secret: reset.secret, password: GOOD_PASSWORD })).statusCode).toBe(200);
    const res = await setPassword({ id: invite.id, secret: invite.secret, password: 'another fine passphrase' });
    expect(res.statusCode).toBe(400);
    expect((await activation(invite.id))?.supersededAt).toBeDefined();
  });

  test.each([
    ['too short', 'Ab3$xyz', /too short/],
    ['too long (73 bytes)', 'x1'.repeat(36) + 'y', /too long/],
    ['too long in bytes though 25 characters', 'é'.repeat(25) + 'ü'.repeat(12), /too long/],
    ['a common password', 'password123', /too common/],
    ['a common password, capitalised', 'Sunshine1', /too common/],
    ['a common word with digits and symbols appended', 'Monkey2024!', /too common/],
    ['one character repeated', 'zzzzzzzzzzzz', /repeated/],
  ])('a weak password is refused: %s', async (_label, password, message) => {
    const user = await createUser(t.app);
    const link = await createLink(t.app, user.id as string);
    const before = await snapshotDatabase(t.app);
    const res = await setPassword({ id: link.id, secret: link.secret, password });
    expect(res.statusCode).toBe(400);
    expect(res.json().issue[0]).toMatchObject({ expression: ['password'] });
    expect(res.json().issue[0].details.text).toMatch(message);
    expect(res.body).not.toContain(password);
    expect(await snapshotDatabase(t.app)).toEqual(before);
    // The link survives a refused password.
    expect((await setPassword({ id: link.id, secret: link.secret, password: GOOD_PASSWORD })).statusCode).toBe(200);
  });

  test('a 72-byte password of multi-byte characters is accepted', async () => {
    const user = await createUser(t.app);
    const link = await createLink(t.app, user.id as string);
    const password = 'ñandú-Ω-'.repeat(6).slice(0, 40);
    expect(Buffer.byteLength(password)).toBeLessThanOrEqual(72);
    expect((await setPassword({ id: link.id, secret: link.secret, password })).statusCode).toBe(200);
  });

  test('malformed bodies are refused by the schema (no operator injection, no extra fields)', async () => {
    const user = await createUser(t.app);
    const link = await createLink(t.app, user.id as string);
    for (const body of [
      { id: link.id, secret: { $ne: null }, password: GOOD_PASSWORD },
      { id: { $gt: '' }, secret: link.secret, password: GOOD_PASSWORD },
      { id: link.id, secret: link.secret },
      { id: link.id, secret: link.secret, password: GOOD_PASSWORD, admin: true },
    ]) {
      const res = await setPassword(body);
      expect(res.statusCode).toBe(400);
      expect(res.json().resourceType).toBe('OperationOutcome');
    }
    expect((await activation(link.id))?.usedAt).toBeUndefined();
  });

  test('concurrent uses of one link: exactly one wins', async () => {
    const user = await createUser(t.app);
    const link = await createLink(t.app, user.id as string);
    const passwords = ['first fine passphrase', 'second fine passphrase', 'third fine passphrase', 'fourth fine passphrase'];
    const results = await Promise.all(passwords.map((password) => setPassword({ id: link.id, secret: link.secret, password })));
    const statuses = results.map((r) => r.statusCode);
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 400)).toHaveLength(passwords.length - 1);
    const winner = passwords[statuses.indexOf(200)];
    const creds = await credentials(user.id as string);
    expect(await verifyPassword(creds?.passwordHash as string, winner)).toBe(true);
    const history = await t.app.ctx.database.db.collection('User_history').countDocuments({ id: user.id });
    expect(history).toBe(2);
  });
});
