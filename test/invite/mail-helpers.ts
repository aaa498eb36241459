import type { ParsedMail } from 'mailparser';
import type { TestSmtp } from '../helpers/smtp';

/** An activation link in a mail: `{BASE_URL}setpassword/{id}/{secret}`. */
export const ACTIVATION_LINK = /http:\/\/localhost:8103\/setpassword\/([A-Za-z0-9_-]+)\/([A-Za-z0-9_-]+)/;

/** The mails the test SMTP server received for `address`, once there are at least `count` (waits up to 10 s). */
export async function mailsTo(smtp: TestSmtp, address: string, count = 1): Promise<ParsedMail[]> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const mails = smtp.messages.filter((m) => m.to && !Array.isArray(m.to) && m.to.text === address);
    if (mails.length >= count) {
      return mails;
    }
    if (Date.now() > deadline) {
      throw new Error(`expected ${count} mail(s) to ${address}, got ${mails.length}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The id and secret of the activation link in a mail (or in a URL). */
export function linkParts(text: string): { id: string; secret: string } {
  const match = ACTIVATION_LINK.exec(text);
  if (!match) {
    throw new Error(`no activation link in: ${text.slice(0, 200)}`);
  }
  return { id: match[1], secret: match[2] };
}
