import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import type { AddressInfo } from 'node:net';

/** A real SMTP server on loopback that keeps every mail it accepts, and whose behaviour a test controls. */
export interface TestSmtp {
  url: string;
  port: number;
  messages: ParsedMail[];
  /** While true, every mail is refused with a temporary failure (451). */
  failing: boolean;
  /** Recipients refused with 550 (mailbox unavailable). */
  refuse: Set<string>;
  /** While set, the reply to DATA waits for this promise (a slow server). */
  hold?: Promise<void>;
  /** How many DATA commands reached the server (delivered or not). */
  dataCount: number;
  /** Resolves when at least n mails have arrived (or rejects after timeoutMs). */
  waitFor(n: number, timeoutMs?: number): Promise<ParsedMail[]>;
  stop(): Promise<void>;
}

export async function startTestSmtp(): Promise<TestSmtp> {
  const state: TestSmtp = {
    url: '',
    port: 0,
    messages: [],
    failing: false,
    refuse: new Set(),
    dataCount: 0,
    waitFor: async (n, timeoutMs = 10_000) => {
      const deadline = Date.now() + timeoutMs;
      while (state.messages.length < n) {
        if (Date.now() > deadline) {
          throw new Error(`expected ${n} mails, got ${state.messages.length}`);
        }
        await new Promise((r) => setTimeout(r, 25));
      }
      return state.messages;
    },
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onRcptTo(address, _session, callback) {
      if (state.refuse.has(address.address)) {
        callback(Object.assign(new Error('Mailbox unavailable'), { responseCode: 550 }));
        return;
      }
      callback();
    },
    onData(stream, _session, callback) {
      state.dataCount++;
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        if (state.failing) {
          const err = Object.assign(new Error('Try again later'), { responseCode: 451 });
          callback(err);
          return;
        }
        (state.hold ?? Promise.resolve())
          .then(() => simpleParser(Buffer.concat(chunks)))
          .then((mail) => {
            state.messages.push(mail);
            callback();
          })
          .catch((err: Error) => callback(err));
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.server.address() as AddressInfo;
  state.port = port;
  state.url = `smtp://127.0.0.1:${port}`;
  return state;
}
