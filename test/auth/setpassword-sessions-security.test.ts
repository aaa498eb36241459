import type { CreatedActivation } from '../../src/accounts/activation';
import { LOGINS, type LoginDoc } from '../../src/accounts/sessions';
import { TestClock } from '../helpers/app';
import { signIn, type SignedIn } from '../helpers/auth';
import { useTestApp } from '../helpers/suite';
import { createLink, createMember, linkPath } from '../helpers/activation';
import { form } from '../helpers/auth';

/**
 * Setting a password through an activation (a reset) ends every sign-in session of that user:
 * in the same transaction the logins are revoked, and this instance stops accepting their
 * tokens at once (its session cache is told, not left to expire).
 */
describe('POST /auth/setpassword ends the user’s sessions', () => {
  // A clock that does not move: the 5 s session cache never expires by itself during the test.
  const clock = new TestClock();
  const t = useTestApp({ clock });

  const me = (session: SignedIn) => t.app.inject({ method: 'GET', url: '/auth/me', headers: session.headers });
  const refresh = (refreshToken: string) => t.app.inject({ method: 'POST', url: '/oauth2/token', ...form({ grant_type: 'refresh_token', refresh_token: refreshToken }) });
  const loginsOf = (userId: string) => t.app.ctx.database.db.collection<LoginDoc>(LOGINS).find({ userId }).toArray();

  async function setPassword(link: CreatedActivation, password: string) {
    const [, , id, secret] = linkPath(link).split('/');
    return t.app.inject({ method: 'POST', url: '/auth/setpassword', payload: { id, secret, password } });
  }

  test('a reset revokes every login; old access and refresh tokens stop working at once', async () => {
    const member = await createMember(t.app, { password: 'the old passphrase 1' });
    const bystander = await createMember(t.app, { password: 'another passphrase 2' });
    const first = await signIn(t.app, member.email, member.password);
    const second = await signIn(t.app, member.email, member.password);
    const other = await signIn(t.app, bystander.email, bystander.password);
    // The sessions are active, and this instance has cached that.
    for (const session of [first, second, other]) {
      expect((await me(session)).statusCode).toBe(200);
    }

    const link = await createLink(t.app, member.user.id as string, 'reset');
    const res = await setPassword(link, 'a brand new passphrase 3');
    expect(res.statusCode).toBe(200);

    for (const login of await loginsOf(member.user.id as string)) {
      expect(login).toMatchObject({ revoked: true, revokedAt: clock.now() });
    }
    expect(await loginsOf(member.user.id as string)).toHaveLength(2);
    for (const session of [first, second]) {
      const after = await me(session);
      expect(after.statusCode).toBe(401);
      const refreshed = await refresh(session.refreshToken as string);
      expect([400, 401]).toContain(refreshed.statusCode);
      expect(refreshed.json()).toMatchObject({ error: 'invalid_grant' });
    }

    // Someone else's session is untouched; the new password signs in.
    expect((await me(other)).statusCode).toBe(200);
    expect((await loginsOf(bystander.user.id as string)).every((l) => !l.revoked)).toBe(true);
    const fresh = await signIn(t.app, member.email, 'a brand new passphrase 3');
    expect((await me(fresh)).statusCode).toBe(200);
  });

  test('a refused set-password (link already used) ends nothing', async () => {
    const member = await createMember(t.app, { password: 'yet another passphrase 4' });
    const link = await createLink(t.app, member.user.id as string, 'reset');
    expect((await setPassword(link, 'the first new passphrase 5')).statusCode).toBe(200);
    const session = await signIn(t.app, member.email, 'the first new passphrase 5');
    expect((await setPassword(link, 'the second new passphrase 6')).statusCode).toBe(400);
    expect((await me(session)).statusCode).toBe(200);
    expect((await refresh(session.refreshToken as string)).statusCode).toBe(200);
  });
});
