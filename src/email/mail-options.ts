import type { SendMailOptions } from 'nodemailer';
import type { OutgoingMail } from './mail';

/** The domain of the sender address, for Message-IDs (`no-reply@example.com` → `example.com`). */
export function senderDomain(from: string): string {
  const match = /@([A-Za-z0-9.-]+)>?\s*$/.exec(from.trim());
  return match ? match[1].toLowerCase() : 'localhost';
}

/**
 * The Message-ID of an outbox mail: derived from its id, so every retry carries the same one and
 * a receiving server can drop a duplicate.
 */
export function outboxMessageId(outboxId: string, from: string): string {
  return `<${outboxId}@${senderDomain(from)}>`;
}

/** nodemailer's options for one outgoing mail. */
export function toSendMailOptions(mail: OutgoingMail): SendMailOptions {
  const options: SendMailOptions = {
    from: mail.from,
    to: mail.to,
    subject: mail.subject,
    text: mail.text,
    messageId: mail.messageId,
    headers: { 'X-Mail-Kind': mail.kind },
  };
  if (mail.html !== undefined) {
    options.html = mail.html;
  }
  return options;
}
