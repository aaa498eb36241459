import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { checkEndpoint, EndpointError, type EndpointPolicy } from '../../src/subscriptions/endpoint';
import { DeliveryError, postNotification } from '../../src/subscriptions/http-post';
import { isRefusedAddress } from '../../src/subscriptions/ip-ranges';
import { startTestWebhook } from '../helpers/webhook';

/**
 * SSRF rules for rest-hook endpoints: which addresses are refused, name resolution (every
 * address checked, the checked one connected to), listed hosts, and the limits of the POST
 * itself (no redirects, timeouts, response size).
 */

describe('addresses a notification may go to', () => {
  test.each([
    '0.0.0.0', '10.0.0.1', '100.64.0.1', '127.0.0.1', '127.255.255.254', '169.254.169.254', '172.16.0.1', '172.31.255.255', '192.0.0.8', '192.0.2.1',
    '192.168.1.1', '198.18.0.1', '198.51.100.7', '203.0.113.9', '224.0.0.1', '239.255.255.250', '240.0.0.1', '255.255.255.255',
    '::', '::1', 'fe80::1', 'febf::1', 'fc00::1', 'fd12:3456::1', 'ff02::1', 'fec0::1', '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:10.0.0.1', '::ffff:a9fe:a9fe',
    '::127.0.0.1', '64:ff9b::10.0.0.1', '64:ff9b::a00:1', '2001:db8::1', '2001::1', '2002:7f00:1::1', '100::1', 'not-an-ip',
  ])('%s is refused', (address) => {
    expect(isRefusedAddress(address)).toBe(true);
  });

  test.each(['8.8.8.8', '1.1.1.1', '93.184.215.14', '172.32.0.1', '100.128.0.1', '2001:4860:4860::8888', '2606:4700::1111', '::ffff:8.8.8.8', '64:ff9b::808:808'])('%s is public', (address) => {
    expect(isRefusedAddress(address)).toBe(false);
  });
});

describe('checking an endpoint', () => {
  const resolving =
    (answers: Record<string, string[]>): EndpointPolicy['resolve'] =>
    async (host) => (answers[host] ?? []).map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  const policy = (answers: Record<string, string[]>, allowedHosts: string[] = []): EndpointPolicy => ({ allowedHosts, resolve: resolving(answers) });

  test('a name is checked by every address it resolves to, and the first is the one connected to', async () => {
    const checked = await checkEndpoint('https://hooks.example.com/in', policy({ 'hooks.example.com': ['93.184.215.14', '2606:4700::1111'] }));
    expect(checked).toMatchObject({ host: 'hooks.example.com', address: '93.184.215.14', family: 4 });
    await expect(checkEndpoint('https://mixed.example.com/in', policy({ 'mixed.example.com': ['93.184.215.14', '10.0.0.7'] }))).rejects.toThrow(/resolves to 10\.0\.0\.7/);
    await expect(checkEndpoint('https://rebound.example.com/in', policy({ 'rebound.example.com': ['::ffff:169.254.169.254'] }))).rejects.toThrow(EndpointError);
    await expect(checkEndpoint('https://nowhere.example.com/in', policy({}))).rejects.toThrow(/cannot be resolved/);
  });

  test('a failing or slow resolver refuses the endpoint', async () => {
    await expect(checkEndpoint('https://broken.example.com/', { allowedHosts: [], resolve: async () => Promise.reject(new Error('ESERVFAIL')) })).rejects.toThrow(/cannot be resolved/);
    await expect(checkEndpoint('https://slow.example.com/', { allowedHosts: [], dnsTimeoutMs: 20, resolve: () => new Promise(() => undefined) })).rejects.toThrow(/did not resolve in time/);
  });

  test('a listed host may use http and private addresses; listing an address does not allow a name that resolves to it', async () => {
    expect(await checkEndpoint('http://internal.example/in', policy({ 'internal.example': ['10.0.0.5'] }, ['internal.example']))).toMatchObject({ address: '10.0.0.5' });
    await expect(checkEndpoint('https://other.example/in', policy({ 'other.example': ['10.0.0.5'] }, ['10.0.0.5']))).rejects.toThrow(/resolves to 10\.0\.0\.5/);
    expect(await checkEndpoint('http://10.0.0.5:8080/in', policy({}, ['10.0.0.5']))).toMatchObject({ address: '10.0.0.5' });
    // The URL parser's normal form is what is compared: 0x0a.5 is 10.0.0.5.
    expect(await checkEndpoint('http://0x0a.5:8080/in', policy({}, ['10.0.0.5']))).toMatchObject({ address: '10.0.0.5' });
    expect(await checkEndpoint('http://[::1]:8080/in', policy({}, ['::1']))).toMatchObject({ address: '::1', family: 6 });
    await expect(checkEndpoint('http://127.0.0.2/in', policy({}, ['127.0.0.1']))).rejects.toThrow(/must use https/);
  });
});

describe('posting a notification', () => {
  let server: Server;
  let port: number;
  const seen: string[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      seen.push(req.url ?? '');
      if (req.url === '/redirect') {
        res.writeHead(302, { location: `http://127.0.0.1:${port}/target` });
        res.end();
      } else if (req.url === '/huge') {
        res.writeHead(200);
        const chunk = Buffer.alloc(64 * 1024, 'x');
        const pump = (): void => {
          while (res.write(chunk)) {
            // keep writing until the client goes away
          }
        };
        res.on('drain', pump);
        res.on('close', () => res.off('drain', pump));
        pump();
      } else if (req.url === '/silent') {
        // Never answers.
      } else {
        res.writeHead(204);
        res.end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const endpoint = (path: string, host = '127.0.0.1') => ({ url: new URL(`http://${host}:${port}${path}`), host, address: '127.0.0.1', family: 4 as const });

  test('connects to the checked address, whatever the name would resolve to now (no DNS rebinding)', async () => {
    const webhook = await startTestWebhook();
    try {
      const status = await postNotification({ url: new URL(`http://rebinding.invalid:${webhook.port}/hook`), host: 'rebinding.invalid', address: '127.0.0.1', family: 4 }, { 'x-test': '1' }, Buffer.from('{}'));
      expect(status).toBe(204);
      expect(webhook.received).toHaveLength(1);
      expect(webhook.received[0].headers.host).toBe(`rebinding.invalid:${webhook.port}`);
    } finally {
      await webhook.close();
    }
  });

  test('a redirect is answered as it is, never followed', async () => {
    seen.length = 0;
    expect(await postNotification(endpoint('/redirect'), {}, Buffer.from('{}'))).toBe(302);
    expect(seen).toEqual(['/redirect']);
  });

  test('an endless response is cut at the size limit; a silent endpoint times out', async () => {
    expect(await postNotification(endpoint('/huge'), {}, Buffer.alloc(0), { connectTimeoutMs: 5000, totalTimeoutMs: 30_000, maxResponseBytes: 128 * 1024 })).toBe(200);
    await expect(postNotification(endpoint('/silent'), {}, Buffer.alloc(0), { connectTimeoutMs: 5000, totalTimeoutMs: 200, maxResponseBytes: 1024 })).rejects.toThrow(DeliveryError);
  });

  test('a refused connection is a DeliveryError naming the cause', async () => {
    const closed = await startTestWebhook();
    const deadPort = closed.port;
    await closed.close();
    await expect(postNotification({ url: new URL(`http://127.0.0.1:${deadPort}/`), host: '127.0.0.1', address: '127.0.0.1', family: 4 }, {}, Buffer.alloc(0))).rejects.toThrow(/ECONNREFUSED/);
  });
});
