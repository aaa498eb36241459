import { SECURITY_EVENTS } from '../../src/accounts/sessions';
import { signIn } from '../helpers/auth';
import { capturingLogger } from '../helpers/log-capture';
import { useTestApp } from '../helpers/suite';
import { form } from '../helpers/auth';

function claimsOf(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());
}

describe('reusing a rotated refresh token ends the whole sign-in', () => {
  const lines: string[] = [];
  const t = useTestApp(() => {
    return { logger: capturingLogger(lines) };
  });

  const refresh = (refreshToken: string) => t.app.inject({ method: 'POST', url: '/oauth2/token', ...form({ grant_type: 'refresh_token', refresh_token: refreshToken }) });
  const me = (accessToken: string) => t.app.inject({ method: 'GET', url: '/auth/me', headers: { authorization: `Bearer ${accessToken}` } });
  const events = () => t.app.ctx.database.db.collection(SECURITY_EVENTS).find({ type: 'refresh-token-reuse' }).toArray();

  test('rotate, reuse the old token: 400, then the NEW access token is 401 and the NEW refresh token is refused', async () => {
    const first = await signIn(t.app);
    const rotated = await refresh(first.refreshToken as string);
    expect(rotated.statusCode).toBe(200);
    const second = rotated.json() as { access_token: string; refresh_token: string };
    expect((await me(second.access_token)).statusCode).toBe(200);

    const before = lines.length;
    const reuse = await refresh(first.refreshToken as string);
    expect(reuse.statusCode).toBe(400);
    expect(reuse.json()).toEqual({ error: 'invalid_grant', error_description: expect.stringMatching(/already used.*sign in again/) });

    expect((await me(second.access_token)).statusCode).toBe(401);
    expect((await me(first.accessToken)).statusCode).toBe(401);
    const refused = await refresh(second.refresh_token);
    expect(refused.statusCode).toBe(400);
    expect(refused.json().error).toBe('invalid_grant');

    // Logged at warn with the session, never with a token; and kept in the security trail.
    const loginId = claimsOf(first.accessToken).login_id as string;
    const written = lines.slice(before).map((l) => JSON.parse(l) as { level: number; msg: string; loginId?: string });
    const warning = written.find((l) => l.level === 40 && /refresh token was used again/.test(l.msg));
    expect(warning).toMatchObject({ loginId });
    const all = lines.join('\n');
    for (const token of [first.refreshToken as string, second.refresh_token, second.access_token]) {
      expect(all).not.toContain(token);
    }
    expect(await events()).toEqual([expect.objectContaining({ type: 'refresh-token-reuse', loginId, userId: claimsOf(first.accessToken).sub })]);
  });

  test('the same refresh token used twice at once: the new tokens of the winner die with the session', async () => {
    const session = await signIn(t.app);
    const results = await Promise.all([1, 2].map(() => refresh(session.refreshToken as string)));
    expect(results.map((r) => r.statusCode).sort()).toEqual([200, 400]);
    const winner = results.find((r) => r.statusCode === 200)?.json() as { access_token: string; refresh_token: string };
    expect((await me(winner.access_token)).statusCode).toBe(401);
    expect((await refresh(winner.refresh_token)).statusCode).toBe(400);
  });

  test('a refresh token of a session ended otherwise (sign-out) is refused without a reuse event', async () => {
    const session = await signIn(t.app);
    const countBefore = (await events()).length;
    expect((await t.app.inject({ method: 'POST', url: '/oauth2/logout', headers: session.headers })).statusCode).toBe(200);
    const res = await refresh(session.refreshToken as string);
    expect(res.json()).toEqual({ error: 'invalid_grant', error_description: expect.stringContaining('revoked') });
    expect((await events()).length).toBe(countBefore);
  });
});
