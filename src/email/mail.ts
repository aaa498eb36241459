import type { ClientSession } from 'mongodb';

/**
 * email/ — domain layer: mail leaves the server only through the outbox. A request writes the
 * mail in its own transaction (enqueue); the dispatcher delivers it after the commit, with retries,
 * through a transport (SMTP, or .eml files without SMTP_URL). It imports db/ and the base only.
 *
 * The types every part of the mail domain and its callers share.
 */

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
