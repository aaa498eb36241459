import type { ClientSession } from 'mongodb';
import type { AppContext } from '../app-context';
import { createOutboxDispatcher } from './dispatcher';
import { createFileTransport } from './file-transport';
import { enqueueMail } from './outbox';
import { createSmtpTransport } from './smtp-transport';

/** One mail to send. Bodies are final (templates are applied before enqueueing). */
export interface MailMessage {
  to: string;
  subject: string;
  text: string;
  html?: string;
  /** What kind of mail, e.g. 'invite-new-user', 'invite-existing-user', 'password-reset'. */
  kind: string;
  /** Links in the mail, logged when mail is written to files instead of sent. */
  links?: string[];
}

/** A mail as the dispatcher hands it to a transport. */
export type OutgoingMail = MailMessage & {
  from: string;
  /** `<{outboxId}@{sender domain}>`: the same on every retry. */
  messageId: string;
  outboxId: string;
  createdAt: Date;
};

/** Where mail leaves the server (SMTP through nodemailer, or .eml files). */
export interface MailTransport {
  send(message: OutgoingMail): Promise<void>;
  close?(): Promise<void>;
}

export interface OutboxDispatcher {
  start(): void;
  /** Stops the timer and waits for a send in flight; later runs deliver nothing. */
  stop(): Promise<void>;
  /** Delivers what is due now (up to a batch); answers how many were sent. */
  runOnce(): Promise<number>;
}

export interface EmailServices {
  /** Writes an outbox document inside the caller's transaction; answers its id. */
  enqueue(session: ClientSession, message: MailMessage): Promise<string>;
  dispatcher: OutboxDispatcher;
  /** Stops the dispatcher and closes the transport this domain opened (not one given in deps). */
  close(): Promise<void>;
}

type EmailContext = Pick<AppContext, 'config' | 'database' | 'clock' | 'log'>;

/** The transport for this configuration: SMTP_URL → pooled SMTP; unset → .eml files. */
export function createMailTransport(ctx: Pick<AppContext, 'config' | 'log'>): MailTransport {
  return ctx.config.smtpUrl ? createSmtpTransport(ctx.config.smtpUrl) : createFileTransport(ctx.config.dataDir, ctx.log);
}

export function createEmailServices(ctx: EmailContext, override?: MailTransport): EmailServices {
  const transport = override ?? createMailTransport(ctx);
  const dispatcher = createOutboxDispatcher({
    database: ctx.database,
    clock: ctx.clock,
    log: ctx.log,
    transport,
    emailFrom: ctx.config.emailFrom,
    pollMs: ctx.config.outboxPollMs,
  });
  return {
    enqueue: (session, message) => enqueueMail(ctx.database, ctx.clock, session, message),
    dispatcher,
    async close() {
      await dispatcher.stop();
      if (!override) {
        await transport.close?.();
      }
    },
  };
}
