import { ADMIN_EMAIL } from '../helpers/app';
import { useTestApp } from '../helpers/suite';
import { form } from '../helpers/auth';

describe('rate limits on /auth and /oauth2', () => {
  const t = useTestApp({ env: { RATE_LIMIT: 'on', RATE_LIMIT_MAX: '5' } });

  const login = (email: string, remoteAddress: string) =>
    t.app.inject({ method: 'POST', url: '/auth/login', remoteAddress, payload: { email, password: 'wrong-password' } });

  test('per client address: the 6th request in the window is 429 with Retry-After', async () => {
    for (let i = 0; i < 5; i++) {
      expect((await login(`user${i}@example.com`, '10.0.0.1')).statusCode).toBe(400);
    }
    const res = await login('user9@example.com', '10.0.0.1');
    expect(res.statusCode).toBe(429);
    expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(Number(res.headers['retry-after'])).toBeLessThanOrEqual(60);
    expect(res.json()).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ code: 'throttled', details: { text: expect.stringMatching(/Too many requests/) } }] });
    const token = await t.app.inject({ method: 'POST', url: '/oauth2/token', remoteAddress: '10.0.0.1', ...form({ grant_type: 'client_credentials' }) });
    expect(token.statusCode).toBe(429);
    expect((await login('other@example.com', '10.0.0.2')).statusCode).toBe(400);
  });

  test('per email: the 6th attempt on one account is 429 whatever the address', async () => {
    for (let i = 0; i < 5; i++) {
      expect((await login(ADMIN_EMAIL, `10.1.0.${i}`)).statusCode).toBe(400);
    }
    const res = await login(ADMIN_EMAIL.toUpperCase(), '10.1.0.9');
    expect(res.statusCode).toBe(429);
    expect(res.headers['retry-after']).toBeDefined();
    expect((await login('someone-else@example.com', '10.1.0.9')).statusCode).toBe(400);
  });

  test('other routes are not limited here', async () => {
    for (let i = 0; i < 7; i++) {
      expect((await t.app.inject({ method: 'GET', url: '/healthcheck', remoteAddress: '10.0.0.1' })).statusCode).toBe(200);
    }
  });
});
