import type { ClientSession } from 'mongodb';
import type { AppContext } from '../app-context';

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

/** Where mail leaves the server (SMTP through nodemailer, or .eml files). */
export interface MailTransport {
  send(message: MailMessage & { from: string; messageId: string }): Promise<void>;
  close?(): Promise<void>;
}

export interface OutboxDispatcher {
  start(): void;
  stop(): Promise<void>;
  /** Delivers what is due now; answers how many were sent. */
  runOnce(): Promise<number>;
}

export interface EmailServices {
  /** Writes an outbox document inside the caller's transaction; answers its id. */
  enqueue(session: ClientSession, message: MailMessage): Promise<string>;
  dispatcher: OutboxDispatcher;
}

/** PLACEHOLDER until the email domain lands. */
export function createEmailServices(_ctx: Pick<AppContext, 'config' | 'database' | 'clock' | 'log'>, _transport?: MailTransport): EmailServices {
  return {
    enqueue: async () => {
      throw new Error('email outbox not implemented yet');
    },
    dispatcher: { start: () => undefined, stop: async () => undefined, runOnce: async () => 0 },
  };
}
