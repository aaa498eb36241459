import { safeUrl } from '../../src/http/logger';
import { capturingLogger } from '../helpers/log-capture';
import { useTestApp } from '../helpers/suite';

const SECRET = 'S3cretActivationValue';

describe('safeUrl', () => {
  test('a matched route with a :secret parameter is logged as its pattern', () => {
    expect(safeUrl(`/%73etpassword/abc/${SECRET}`, '/setpassword/:id/:secret')).toBe('/setpassword/:id/[redacted]');
  });

  test.each([
    `/setpassword/abc/${SECRET}`,
    `/%73etpassword/abc/${SECRET}`,
    `//setpassword//abc/${SECRET}`,
    `/SetPassword/abc/${SECRET}`,
    `/setpassword%2Fabc%2F${SECRET}`,
    `/setpassword/abc/${SECRET}/more`,
    `/setpassword/abc/${SECRET}%`,
    `/base/setpassword/abc/${SECRET}?x=1#y`,
  ])('no secret in %s when no route matched', (url) => {
    expect(safeUrl(url)).not.toContain(SECRET);
    expect(safeUrl(url)).toContain('[redacted]');
  });

  test('other paths are kept as sent, without query or fragment', () => {
    expect(safeUrl('/fhir/R4/Patient/123?name=x#y')).toBe('/fhir/R4/Patient/123');
    expect(safeUrl('/%61uth/login')).toBe('/%61uth/login');
    expect(safeUrl('/fhir/R4/Patient/1#frag?x=1')).toBe('/fhir/R4/Patient/1');
    expect(safeUrl('/fhir/R4/Patient?name=x/setpassword/a/b')).toBe('/fhir/R4/Patient');
  });
});

describe('request log lines never carry an activation secret, however the path is spelled', () => {
  const lines: string[] = [];
  const t = useTestApp(() => {
    return { logger: capturingLogger(lines) };
  });

  test.each([`/setpassword/abc/${SECRET}`, `/%73etpassword/abc/${SECRET}`, `/setpassword/abc/${SECRET.replace('S', '%53')}`, `//setpassword/abc/${SECRET}`, `/SETPASSWORD/abc/${SECRET}`])(
    'GET %s',
    async (url) => {
      const before = lines.length;
      const res = await t.app.inject({ method: 'GET', url });
      expect([200, 400, 404]).toContain(res.statusCode);
      const written = lines.slice(before).join('\n');
      expect(written).toContain('request completed');
      expect(written).not.toContain(SECRET);
    },
  );
});

describe('each request logger', () => {
  const lines: string[] = [];
  const t = useTestApp(() => {
    return { logger: capturingLogger(lines) };
  });
  const linesOf = (reqId: string) =>
    lines
      .flatMap((chunk) => chunk.split('\n'))
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((line) => line.reqId === reqId);

  test('the request line carries the request id, once, in the place a child logger puts it', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/healthcheck?x=1', headers: { 'x-request-id': 'req-line-1' } });
    expect(res.statusCode).toBe(200);
    const [line, ...more] = linesOf('req-line-1');
    expect(more).toEqual([]);
    expect(line).toMatchObject({ level: 30, msg: 'request completed', req: { id: 'req-line-1', method: 'GET', url: '/healthcheck' }, res: { statusCode: 200 } });
    const keys = Object.keys(line);
    expect(keys.slice(0, 5)).toEqual(['level', 'time', 'pid', 'hostname', 'reqId']);
    expect(keys.indexOf('req')).toBeGreaterThan(keys.indexOf('reqId'));
  });

  test('lines written through request.log while answering (a refusal) carry the same request id', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/fhir/R4/Patient/x', headers: { 'x-request-id': 'req-line-2' } });
    expect(res.statusCode).toBe(401);
    const written = linesOf('req-line-2');
    expect(written.map((line) => line.msg)).toEqual([expect.stringMatching(/Sign in required/), 'request completed']);
  });
});
