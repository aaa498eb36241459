import type { FastifyBaseLogger } from 'fastify';
import type { AppConfig } from '../config';
import type { IndexSpecs } from '../db/indexes';
import type { Store } from '../db/store';
import { DISPATCH_COLLECTION } from './dispatch-state';
import { createOutboxDispatcher } from './dispatcher';
import { createFileTransport } from './file-transport';
import type { EmailServices, MailTransport } from './mail';
import { enqueueMail, OUTBOX_COLLECTION } from './outbox';
import { createSmtpTransport } from './smtp-transport';

/** What the mail domain takes from the app. */
export interface EmailContext extends Store {
  config: AppConfig;
  log: FastifyBaseLogger;
}

/** The transport for this configuration: SMTP_URL → pooled SMTP; unset → .eml files. */
export function createMailTransport(ctx: Pick<EmailContext, 'config' | 'log'>): MailTransport {
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

/** The indexes of the mail collections (created at start by db/indexes.ts). */

export function emailIndexes(): IndexSpecs {
  return {
    // Adoption looks at recent mail first.
    [OUTBOX_COLLECTION]: [{ key: { createdAt: 1 }, name: 'outbox_created_at' }],
    // The dispatcher's claim: pending mail due now, oldest first.
    [DISPATCH_COLLECTION]: [{ key: { status: 1, nextAttemptAt: 1 }, name: 'dispatch_status_next_attempt' }],
  };
}
