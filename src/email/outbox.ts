import type { ClientSession, Collection } from 'mongodb';
import { newId, type Clock } from '../clock';
import { recordWrite } from '../db/commit-ledger';
import type { Database } from '../db/database';
import { withWriteLock } from '../db/transaction';
import { FhirError } from '../errors';
import type { MailMessage } from './mail';

export const OUTBOX_COLLECTION = 'outbox';

/**
 * A mail waiting to leave (or that left) the server, as its caller's transaction wrote it. Its
 * delivery state lives in `outbox_dispatch` (see dispatch-state.ts), because the embedded engine
 * loses writes when a collection receives both transactional inserts and plain updates at the
 * same time (measured: enqueued mail vanished). The one later change: once the mail is sent or
 * finally failed, its bodies and links (which carry live activation secrets) are removed
 * (purgeMailBody), under `withWriteLock` for that reason.
 */
export interface OutboxDocument {
  _id: string;
  /** The whole message until it is purged; then only `to`, `subject` and `kind`. */
  message: MailMessage | PurgedMailMessage;
  createdAt: Date;
  /** True once `message.text`, `message.html` and `message.links` were removed. */
  bodyPurged?: boolean;
}

/** What an outbox document keeps of a mail once it was sent or given up on. */
export type PurgedMailMessage = Pick<MailMessage, 'to' | 'subject' | 'kind'>;

/** Whether the document still holds a message that can be sent. */
export function hasMailBody(doc: OutboxDocument): doc is OutboxDocument & { message: MailMessage } {
  return doc.bodyPurged !== true && typeof (doc.message as Partial<MailMessage>).text === 'string';
}

export function outboxCollection(database: Database): Collection<OutboxDocument> {
  return database.db.collection<OutboxDocument>(OUTBOX_COLLECTION);
}

const ADDRESS = /^[^\s@<>,;"]+@[^\s@<>,;"]+$/;
const MAX_SUBJECT = 998;

/**
 * Refuses a message no transport could deliver. The callers (invite, auth) validate addresses
 * first, so this is a last guard against header injection and empty mail.
 */
export function checkMailMessage(message: MailMessage): void {
  if (typeof message.to !== 'string' || !ADDRESS.test(message.to)) {
    throw new FhirError('FST_INVALID', 'The email address cannot receive mail: use a single address like name@example.com', 'email');
  }
  if (typeof message.subject !== 'string' || message.subject.trim() === '' || /[\r\n]/.test(message.subject) || message.subject.length > MAX_SUBJECT) {
    throw new FhirError('FST_INTERNAL', 'The email could not be prepared');
  }
  if (typeof message.text !== 'string' || message.text === '' || (message.html !== undefined && typeof message.html !== 'string')) {
    throw new FhirError('FST_INTERNAL', 'The email could not be prepared');
  }
  if (typeof message.kind !== 'string' || message.kind === '') {
    throw new FhirError('FST_INTERNAL', 'The email could not be prepared');
  }
}

/**
 * Writes the outbox document in the caller's transaction (nothing is sent here: a dispatcher
 * delivers it once the transaction has committed). Answers the document's id.
 */
export async function enqueueMail(database: Database, clock: Clock, session: ClientSession, message: MailMessage): Promise<string> {
  checkMailMessage(message);
  const stored: MailMessage = { to: message.to, subject: message.subject, text: message.text, kind: message.kind };
  if (message.html !== undefined) {
    stored.html = message.html;
  }
  if (message.links !== undefined && message.links.length > 0) {
    stored.links = [...message.links];
  }
  const doc: OutboxDocument = { _id: newId(), message: stored, createdAt: clock.now() };
  await outboxCollection(database).insertOne(doc, { session });
  recordWrite(session, { collection: OUTBOX_COLLECTION, id: doc._id });
  return doc._id;
}

/**
 * Removes the text, HTML and links of a mail that was sent (or finally failed): they carry live
 * activation links, which must not stay readable in the database. Keeps `to`, `subject` and
 * `kind` and sets `bodyPurged: true`. A plain update on a collection that transactions insert
 * into: through withWriteLock (see the note on OutboxDocument). Idempotent.
 */
export async function purgeMailBody(database: Database, id: string): Promise<void> {
  await withWriteLock(database, () =>
    outboxCollection(database).updateOne(
      { _id: id },
      { $unset: { 'message.text': '', 'message.html': '', 'message.links': '' }, $set: { bodyPurged: true } },
    ),
  );
}
