import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';

/** A real SMTP server whose behaviour a test controls: refuse recipients, hold the data reply. */
export interface CustomSmtp {
  url: string;
  messages: ParsedMail[];
  /** Recipients refused with 550 (mailbox unavailable). */
  refuse: Set<string>;
  /** While set, the reply to DATA waits for this promise (a slow server). */
  hold?: Promise<void>;
  /** How many DATA commands reached the server (delivered or not). */
  dataCount: number;
  stop(): Promise<void>;
}

export async function startCustomSmtp(): Promise<CustomSmtp> {
  const state: CustomSmtp = {
    url: '',
    messages: [],
    refuse: new Set(),
    dataCount: 0,
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
        const hold = state.hold ?? Promise.resolve();
        hold
          .then(() => simpleParser(Buffer.concat(chunks)))
          .then((parsed) => {
            state.messages.push(parsed);
            callback();
          })
          .catch((err: Error) => callback(err));
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  state.url = `smtp://127.0.0.1:${(server.server.address() as AddressInfo).port}`;
  return state;
}
