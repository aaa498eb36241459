import { Writable } from 'node:stream';
import pino from 'pino';
import type { AppConfig } from '../../src/config';
import { CENSOR, SECRET_KEYS, redactSecrets } from '../../src/http/log-redaction';
import { loggerOptions } from '../../src/http/logger';

const SECRET = 'Tr0ub4dor-and-3';

/** A logger with the server's options writing each line (parsed) into `lines`. */
function capture(): { log: pino.Logger; lines: Record<string, unknown>[]; raw: string[] } {
  const lines: Record<string, unknown>[] = [];
  const raw: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      raw.push(chunk.toString());
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { log: pino(loggerOptions({ logLevel: 'trace' } as AppConfig), stream), lines, raw };
}

describe('redactSecrets', () => {
  test.each([...SECRET_KEYS])('%s is replaced at the top level and one level down', (key) => {
    expect(redactSecrets({ [key]: SECRET, other: 'kept' })).toEqual({ [key]: CENSOR, other: 'kept' });
    expect(redactSecrets({ body: { [key]: SECRET, other: 'kept' } })).toEqual({ body: { [key]: CENSOR, other: 'kept' } });
  });

  test('authorization, cookie and set-cookie headers are replaced, other headers kept', () => {
    const headers = { authorization: `Bearer ${SECRET}`, cookie: SECRET, 'set-cookie': [SECRET], accept: 'application/fhir+json' };
    expect(redactSecrets({ req: { method: 'GET', headers } })).toEqual({ req: { method: 'GET', headers: { authorization: CENSOR, cookie: CENSOR, 'set-cookie': CENSOR, accept: 'application/fhir+json' } } });
    expect(redactSecrets({ headers: { Authorization: SECRET } })).toEqual({ headers: { Authorization: CENSOR } });
  });

  test('an object without a secret comes back as itself (nothing is copied)', () => {
    const line = { req: { id: 'r1', url: '/fhir/R4/Patient/1' }, res: { statusCode: 200 }, responseTime: 1.5 };
    expect(redactSecrets(line)).toBe(line);
  });

  test('what the caller logged is never changed; an Error stays an Error with its message and stack', () => {
    const err = Object.assign(new Error('client refused'), { clientSecret: SECRET });
    const line = { err, user: { email: 'a@example.com', passwordHash: SECRET } };
    const out = redactSecrets(line);
    expect(line.user.passwordHash).toBe(SECRET);
    expect(err.clientSecret).toBe(SECRET);
    expect(out.err).toBeInstanceOf(Error);
    expect(out.err.message).toBe('client refused');
    expect(out.err.stack).toBe(err.stack);
    expect(out.err.clientSecret).toBe(CENSOR);
    expect(out.user).toEqual({ email: 'a@example.com', passwordHash: CENSOR });
  });

  test('three levels are covered: a body inside a request, tokens in an array (arrays stay arrays)', () => {
    const out = redactSecrets({ tokens: ['kept', { access_token: SECRET }], req: { body: { password: SECRET, email: 'a@example.com' } } });
    expect(Array.isArray(out.tokens)).toBe(true);
    expect(out.tokens).toEqual(['kept', { access_token: CENSOR }]);
    expect(out.req.body).toEqual({ password: CENSOR, email: 'a@example.com' });
    expect(redactSecrets([{ access_token: SECRET }, 'x'])).toEqual([{ access_token: CENSOR }, 'x']);
  });

  test('class instances other than Errors (a Fastify request, a socket) are not entered, nor copied', () => {
    class Request {
      body = { password: SECRET };
    }
    const req = new Request();
    expect(redactSecrets({ req }).req).toBe(req);
    expect(redactSecrets({ outer: { req } }).outer.req).toBe(req);
  });
});

describe('the server logger writes no secret', () => {
  test('in a line, a nested object, an error, a child logger’s bindings or a request-shaped object', () => {
    const { log, raw, lines } = capture();
    log.info({ password: SECRET }, 'top level');
    log.warn({ client: { client_secret: SECRET, id: 'c1' } }, 'nested');
    log.error({ err: Object.assign(new Error('boom'), { mfaSecret: SECRET }) }, 'error');
    log.child({ refresh_token: SECRET }).info('child');
    log.info({ request: { headers: { authorization: `Basic ${SECRET}` } } }, 'request-shaped');
    log.info({ req: { url: '/auth/login', body: { password: SECRET } } }, 'req-shaped');
    expect(raw.join('')).not.toContain(SECRET);
    expect(lines[0].password).toBe(CENSOR);
    expect(lines[1].client).toEqual({ client_secret: CENSOR, id: 'c1' });
    expect((lines[2].err as Record<string, unknown>).mfaSecret).toBe(CENSOR);
    expect((lines[2].err as Record<string, unknown>).message).toBe('boom');
    expect(lines[3].refresh_token).toBe(CENSOR);
    expect(lines[4].request).toEqual({ headers: { authorization: CENSOR } });
    expect(lines[5].req).toEqual({ url: '/auth/login' });
    expect(lines).toHaveLength(6);
  });

  test('a line without secrets is written as logged', () => {
    const { log, lines } = capture();
    log.info({ user: { email: 'a@example.com' }, count: 3 }, 'plain');
    expect(lines[0]).toMatchObject({ user: { email: 'a@example.com' }, count: 3, msg: 'plain' });
  });
});
