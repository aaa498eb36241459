import Fastify, { type FastifyInstance } from 'fastify';
import { loadConfig } from '../../src/config';
import { RATE_LIMIT_KEYS, registerRateLimits } from '../../src/auth/rate-limits';
import { errorHandler } from '../../src/http/error-handler';

/**
 * The rate-limit counters live in this instance's memory: each limit remembers at most a fixed
 * number of keys (addresses, emails), the least recently seen forgotten first, so a flood of
 * addresses cannot grow the memory without bound. Here with a limit of 3 keys and 1 request each.
 */
describe('rate-limit counters are bounded', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    app = Fastify();
    app.setErrorHandler(errorHandler);
    const config = loadConfig({ RATE_LIMIT: 'on', RATE_LIMIT_MAX: '1', RATE_LIMIT_WINDOW_MS: '600000' });
    await registerRateLimits(app, { config }, 3);
    app.post('/auth/probe', async () => ({ ok: true }));
    await app.ready();
  });
  afterAll(() => app.close());

  const probe = (remoteAddress: string, email?: string) => app.inject({ method: 'POST', url: '/auth/probe', remoteAddress, payload: email ? { email } : {} });

  test('the default bound is 10,000 keys per limit', () => {
    expect(RATE_LIMIT_KEYS).toBe(10_000);
  });

  test('per address: beyond the bound the least recently seen address is forgotten, the others still count', async () => {
    expect((await probe('10.9.0.1')).statusCode).toBe(200);
    expect((await probe('10.9.0.1')).statusCode).toBe(429);
    expect((await probe('10.9.0.2')).statusCode).toBe(200);
    expect((await probe('10.9.0.3')).statusCode).toBe(200);
    // 10.9.0.1 is still remembered (three keys):
    expect((await probe('10.9.0.1')).statusCode).toBe(429);
    // Two new addresses push out the two least recently seen (10.9.0.2 and 10.9.0.3 after the reuse above).
    expect((await probe('10.9.0.4')).statusCode).toBe(200);
    expect((await probe('10.9.0.5')).statusCode).toBe(200);
    expect((await probe('10.9.0.2')).statusCode).toBe(200);
    // A fourth new key pushed out 10.9.0.1: its count starts again.
    expect((await probe('10.9.0.1')).statusCode).toBe(200);
    expect((await probe('10.9.0.1')).statusCode).toBe(429);
  });

  test('per email: the same bound', async () => {
    const emails = ['a@example.com', 'b@example.com', 'c@example.com', 'd@example.com'];
    let address = 0;
    const next = () => `10.8.0.${address++}`;
    expect((await probe(next(), emails[0])).statusCode).toBe(200);
    expect((await probe(next(), emails[0])).statusCode).toBe(429);
    for (const email of emails.slice(1)) {
      expect((await probe(next(), email)).statusCode).toBe(200);
    }
    expect((await probe(next(), emails[0])).statusCode).toBe(200);
  });
});
