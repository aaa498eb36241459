import { connect } from 'node:net';
import type { LightMyRequestResponse } from 'fastify';
import { LOGINS } from '../../src/accounts/sessions';
import { ADMIN_EMAIL, ADMIN_PASSWORD } from '../helpers/app';
import { pkce } from '../helpers/auth';
import { uniqueEmail } from '../helpers/fixtures';
import { useTestApp } from '../helpers/suite';

/**
 * The rate limits follow the route the router matched, not the text of the URL: every spelling
 * of a protected path that reaches its handler counts against, and is refused by, the same limit.
 * How the router (find-my-way, with ignoreTrailingSlash) treats the variants:
 * - percent-encoded letters (`/%61uth/login`, every letter encoded) are decoded: same route;
 * - a trailing slash (`/auth/login/`) is ignored: same route;
 * - an absolute-form target (`http://host/auth/login`) and a `#fragment` are stripped: same route;
 * - a doubled slash (`//auth/login`, `/auth//login`), another case (`/Auth/login`, `/AUTH/LOGIN`),
 *   an encoded slash (`/auth%2Flogin`) and dot segments on the wire are NOT matched: 404, no handler.
 */

const MAX = 3;

/** The protected routes, each with a body that passes its schema (a new email each time: the per-email limit stays out of the way). */
const ROUTES: { path: string; body: () => Record<string, unknown> }[] = [
  { path: '/auth/login', body: () => ({ email: uniqueEmail('nobody'), password: 'not the password' }) },
  { path: '/auth/setpassword', body: () => ({ id: 'no-such-request', secret: 'no-such-secret', password: 'a long new passphrase' }) },
  { path: '/auth/resetpassword', body: () => ({ email: uniqueEmail('nobody') }) },
  { path: '/oauth2/token', body: () => ({ grant_type: 'client_credentials', client_id: 'nobody', client_secret: 'nothing' }) },
  { path: '/auth/mfa/verify', body: () => ({ login: 'no-such-login', token: '123456' }) },
  { path: '/auth/mfa/login-enroll', body: () => ({ login: 'no-such-login', token: '123456' }) },
  { path: '/auth/profile', body: () => ({ login: 'no-such-login', profile: 'no-such-membership' }) },
];

function encodeLetters(path: string, every: boolean): string {
  return path
    .split('/')
    .map((segment) => [...segment].map((c, i) => ((every || i === 0) && /[a-z]/.test(c) ? `%${c.charCodeAt(0).toString(16)}` : c)).join(''))
    .join('/');
}

/** Spellings of a path, and whether the router sends them to the route's handler. */
function variants(path: string): { name: string; url: string; reachesHandler: boolean }[] {
  const [first, ...rest] = path.slice(1).split('/');
  const mixed = `/${first[0].toUpperCase()}${first.slice(1)}/${rest.join('/')}`;
  return [
    { name: 'first letters percent-encoded', url: encodeLetters(path, false), reachesHandler: true },
    { name: 'every letter percent-encoded (upper-case hex)', url: encodeLetters(path, true).replace(/%([0-9a-f]{2})/g, (_m, h: string) => `%${h.toUpperCase()}`), reachesHandler: true },
    { name: 'trailing slash', url: `${path}/`, reachesHandler: true },
    { name: 'percent-encoded with trailing slash and a query', url: `${encodeLetters(path, false)}/?x=1`, reachesHandler: true },
    { name: 'leading doubled slash', url: `/${path}`, reachesHandler: false },
    { name: 'inner doubled slash', url: path.replace(/\/([^/]*)$/, '//$1'), reachesHandler: false },
    { name: 'mixed case', url: mixed, reachesHandler: false },
    { name: 'upper case', url: path.toUpperCase(), reachesHandler: false },
    { name: 'encoded slash', url: path.replace(/\/([^/]*)$/, '%2F$1'), reachesHandler: false },
  ];
}

describe('rate limits cannot be bypassed by spelling the path differently', () => {
  const t = useTestApp({ env: { RATE_LIMIT: 'on', RATE_LIMIT_MAX: String(MAX) } });
  let address = 0;
  /** A client address no other request of this suite used (a fresh per-address budget). */
  const freshAddress = () => {
    address++;
    return `10.77.${Math.floor(address / 250)}.${(address % 250) + 1}`;
  };

  const post = (url: string, payload: Record<string, unknown>, remoteAddress: string): Promise<LightMyRequestResponse> =>
    t.app.inject({ method: 'POST', url, payload, remoteAddress });

  async function exhaust(url: string, payload: () => Record<string, unknown>, remoteAddress: string): Promise<void> {
    for (let i = 0; i < MAX; i++) {
      expect((await post(url, payload(), remoteAddress)).statusCode).not.toBe(429);
    }
  }

  function expectLimited(res: LightMyRequestResponse): void {
    expect(res.statusCode).toBe(429);
    expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(res.json()).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ code: 'throttled' }] });
  }

  describe.each(ROUTES)('$path', ({ path, body }) => {
    test.each(variants(path))('$name ($url): the limit reached on the canonical path applies', async ({ url, reachesHandler }) => {
      const remoteAddress = freshAddress();
      await exhaust(path, body, remoteAddress);
      const res = await post(url, body(), remoteAddress);
      if (reachesHandler) {
        expectLimited(res);
      } else {
        // Never routed: answered 404 whether or not the address is limited.
        expect(res.statusCode).toBe(404);
        expect((await post(url, body(), freshAddress())).statusCode).toBe(404);
      }
    });

    test('requests on the spelled-differently paths count against the canonical path', async () => {
      const remoteAddress = freshAddress();
      const routed = variants(path).filter((v) => v.reachesHandler);
      for (const variant of routed.slice(0, MAX)) {
        expect((await post(variant.url, body(), remoteAddress)).statusCode).not.toBe(429);
      }
      expectLimited(await post(path, body(), remoteAddress));
    });
  });

  test('a limited address cannot sign in through a variant, even with the right password', async () => {
    const remoteAddress = freshAddress();
    await exhaust('/auth/login', () => ({ email: uniqueEmail('nobody'), password: 'wrong password' }), remoteAddress);
    const logins = t.app.ctx.database.db.collection(LOGINS);
    const before = await logins.countDocuments({});
    for (const { url, reachesHandler } of variants('/auth/login')) {
      const { challenge } = pkce();
      const res = await post(url, { email: ADMIN_EMAIL, password: ADMIN_PASSWORD, codeChallenge: challenge, codeChallengeMethod: 'S256' }, remoteAddress);
      expect(res.statusCode).toBe(reachesHandler ? 429 : 404);
      expect(res.json()).not.toHaveProperty('code');
      expect(res.json()).not.toHaveProperty('login');
    }
    expect(await logins.countDocuments({})).toBe(before);
  });

  test('the per-email limit applies to a variant from a fresh address', async () => {
    const email = 'limited-by-email@example.com';
    for (let i = 0; i < MAX; i++) {
      expect((await post('/auth/login', { email, password: 'wrong password' }, freshAddress())).statusCode).toBe(400);
    }
    expectLimited(await post('/%61uth/login/', { email: email.toUpperCase(), password: 'wrong password' }, freshAddress()));
    expectLimited(await post('/auth/%6Cogin', { email, password: 'wrong password' }, freshAddress()));
  });
});

/** One raw HTTP/1.1 request (the target exactly as given, no client normalisation); answers the status. */
function rawPost(port: number, target: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(`POST ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    });
    let data = '';
    socket.on('data', (chunk) => (data += chunk.toString()));
    socket.on('end', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1])));
    socket.on('error', reject);
  });
}

describe('rate limits over a real socket: request targets no client library would send', () => {
  const t = useTestApp({ env: { RATE_LIMIT: 'on', RATE_LIMIT_MAX: String(MAX) } });
  let port = 0;
  beforeAll(async () => {
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    port = (t.app.server.address() as { port: number }).port;
  });

  test('absolute-form, fragment and dot-segment targets are limited or never routed', async () => {
    const body = JSON.stringify({ email: ADMIN_EMAIL, password: ADMIN_PASSWORD });
    for (let i = 0; i < MAX; i++) {
      expect(await rawPost(port, '/auth/login', JSON.stringify({ email: 'nobody@example.com', password: 'wrong password' }))).toBe(400);
    }
    // Routed to /auth/login by the router: limited.
    for (const target of [`http://127.0.0.1:${port}/auth/login`, '/auth/login#x', '/auth/login?', '/%61%75%74%68/%6C%6F%67%69%6E', `http://127.0.0.1:${port}/%61uth/login/`]) {
      expect([target, await rawPost(port, target, body)]).toEqual([target, 429]);
    }
    // Not routed at all: 404, no handler ran.
    for (const target of ['/auth/./login', '/auth/../auth/login', '//auth/login', '/auth/login;x']) {
      expect([target, await rawPost(port, target, body)]).toEqual([target, 404]);
    }
  });
});
