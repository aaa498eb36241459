import type { Transporter } from 'nodemailer';
import type { MailTransport } from './mail';
import { toSendMailOptions } from './mail-options';

/** SMTP timeouts: short, so an outage fails a send in seconds and the dispatcher moves on. */
export interface SmtpTimeouts {
  connectionTimeout: number;
  greetingTimeout: number;
  socketTimeout: number;
  dnsTimeout: number;
}

export const DEFAULT_SMTP_TIMEOUTS: SmtpTimeouts = {
  connectionTimeout: 5_000,
  greetingTimeout: 5_000,
  socketTimeout: 15_000,
  dnsTimeout: 5_000,
};

/**
 * Sends through a pooled nodemailer SMTP transport (`smtp://user:pass@host:587`, or `smtps://`).
 * nodemailer's own requeueing is off: the outbox retries, with backoff, under a stable Message-ID.
 */
export function createSmtpTransport(smtpUrl: string, timeouts: SmtpTimeouts = DEFAULT_SMTP_TIMEOUTS): MailTransport {
  // nodemailer is loaded at the first mail, not at start (it takes a tenth of a second to load).
  let transporter: Transporter | undefined;
  const open = async (): Promise<Transporter> => (transporter ??= (await import('nodemailer')).createTransport({
    url: smtpUrl,
    pool: true,
    maxConnections: 3,
    maxMessages: 100,
    maxRequeues: 0,
    idleTimeout: 60_000,
    ...timeouts,
    logger: false,
    debug: false,
  }));
  return {
    async send(mail) {
      await (await open()).sendMail(toSendMailOptions(mail));
    },
    async close() {
      transporter?.close();
    },
  };
}
