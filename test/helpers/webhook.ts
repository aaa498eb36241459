import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request a test webhook received. */
export interface ReceivedHook {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** The status the webhook answered. */
  status: number;
}

export interface TestWebhook {
  /** `http://127.0.0.1:{port}/hook` (list 127.0.0.1 in SUBSCRIPTION_ALLOWED_HOSTS). */
  readonly url: string;
  readonly port: number;
  /** Every request, in arrival order (the failed ones too). */
  readonly received: ReceivedHook[];
  /** Those answered 2xx. */
  accepted(): ReceivedHook[];
  /** What the next requests are answered (default 204); a function decides per request. */
  answer(status: number | ((hook: Omit<ReceivedHook, 'status'>) => number)): void;
  /** Stops listening (connections are refused) until `start()` listens again on the same port. */
  stopListening(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

/** A real HTTP server on 127.0.0.1 that records what rest-hook subscriptions send it. */
export async function startTestWebhook(): Promise<TestWebhook> {
  const received: ReceivedHook[] = [];
  let decide: (hook: Omit<ReceivedHook, 'status'>) => number = () => 204;
  let port = 0;
  let server: Server | undefined;

  const listen = async (): Promise<void> => {
    const next = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const hook = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
        const status = decide(hook);
        received.push({ ...hook, status });
        res.statusCode = status;
        res.end();
      });
    });
    await new Promise<void>((resolve, reject) => {
      next.once('error', reject);
      next.listen(port, '127.0.0.1', () => resolve());
    });
    port = (next.address() as AddressInfo).port;
    server = next;
  };
  const stop = async (): Promise<void> => {
    const current = server;
    server = undefined;
    if (current) {
      current.closeAllConnections();
      await new Promise<void>((resolve) => current.close(() => resolve()));
    }
  };
  await listen();
  return {
    get url() {
      return `http://127.0.0.1:${port}/hook`;
    },
    get port() {
      return port;
    },
    received,
    accepted: () => received.filter((r) => r.status >= 200 && r.status < 300),
    answer(status) {
      decide = typeof status === 'number' ? () => status : status;
    },
    stopListening: stop,
    start: listen,
    close: stop,
  };
}

/** The hex HMAC-SHA256 a receiver computes to check X-Signature. */
export function expectedSignature(secret: string, body: string): string {
  return createHmac('sha256', secret).update(body).digest('hex');
}
