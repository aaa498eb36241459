import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { withTransaction } from '../../src/db/transaction';
import type { MailMessage } from '../../src/email/mail';
import { startTestSmtp, type TestSmtp } from './smtp';

/** Enqueues through a real transaction, the way the invite and auth domains do. */
export function enqueue(app: FastifyInstance, message: MailMessage): Promise<string> {
  return withTransaction(app.ctx.database, (session) => app.ctx.email.enqueue(session, message));
}

let counter = 0;

/** A distinct mail with text and HTML bodies and an activation-style link. */
export function mail(overrides: Partial<MailMessage> = {}): MailMessage {
  counter++;
  const link = `http://localhost:8103/setpassword/id${counter}/secret${counter}`;
  return {
    to: `person${counter}@example.com`,
    subject: `Welcome ${counter}`,
    text: `Hello ${counter}, activate: ${link}`,
    html: `<p>Hello ${counter}, <a href="${link}">activate</a></p>`,
    kind: 'invite-new-user',
    links: [link],
    ...overrides,
  };
}

/** A pino destination that keeps every log line as parsed JSON. */
export function captureLogs(): { logger: object; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line.trim() !== '') {
          lines.push(JSON.parse(line) as Record<string, unknown>);
        }
      }
      done();
    },
  });
  return { logger: { level: 'info', stream }, lines };
}

/** A loopback port nothing listens on. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A TCP server that accepts connections and never says a word (a hung SMTP server). */
export async function startSilentServer(): Promise<{ port: number; connections(): number; stop(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let connections = 0;
  const server: Server = createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    connections: () => connections,
    stop: async () => {
      for (const socket of sockets) {
        socket.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Polls until check() is true (or fails after timeoutMs). */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) {
      throw new Error('condition not met in time');
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The shared test SMTP server (refuse recipients, hold the DATA reply); the names its first suites import. */
export type CustomSmtp = TestSmtp;
export const startCustomSmtp = startTestSmtp;
