import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyBaseLogger } from 'fastify';
import type { Transporter } from 'nodemailer';
import type { MailTransport, OutgoingMail } from './mail';
import { toSendMailOptions } from './mail-options';

/** `2026-01-15T12:00:00.000Z` → `20260115T120000000Z`: sortable and safe in file names. */
export function fileStamp(date: Date): string {
  return date.toISOString().replace(/[-:.]/g, '');
}

/** The .eml file of an outbox mail: the same name on every retry, so a retry overwrites it. */
export function emlFileName(mail: Pick<OutgoingMail, 'createdAt' | 'outboxId'>): string {
  return `${fileStamp(mail.createdAt)}-${mail.outboxId}.eml`;
}

/**
 * For development without SMTP_URL: writes each mail as an .eml file under `{dataDir}/outbox/`
 * and logs one line with the recipient, the subject and the links, so a developer can follow an
 * activation link.
 */
export function createFileTransport(dataDir: string, log: FastifyBaseLogger): MailTransport {
  const dir = join(dataDir, 'outbox');
  // nodemailer is loaded at the first mail, not at start.
  let composer: Transporter | undefined;
  return {
    async send(mail) {
      composer ??= (await import('nodemailer')).createTransport({ streamTransport: true, buffer: true, newline: 'unix' });
      const info = await composer.sendMail(toSendMailOptions(mail));
      const file = join(dir, emlFileName(mail));
      await mkdir(dir, { recursive: true });
      await writeFile(file, info.message as Buffer);
      log.info({ to: mail.to, subject: mail.subject, links: mail.links ?? [], file }, `Mail to ${mail.to} written to ${file} (SMTP_URL is not set)`);
    },
  };
}
