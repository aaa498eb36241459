import type { ClientSession, Collection } from 'mongodb';
import { newId, type Clock } from '../clock';
import type { Database } from '../db/database';
import { FhirError } from '../errors';
import type { MailMessage } from './services';

export const OUTBOX_COLLECTION = 'outbox';

/**
 * A mail waiting to leave (or that left) the server, exactly as its caller's transaction wrote
 * it. Nothing changes it afterwards: its delivery state lives in `outbox_dispatch` (see
 * dispatch-state.ts), because the embedded engine loses writes when a collection receives both
 * transactional inserts and plain updates at the same time (measured: enqueued mail vanished).
 */
export interface OutboxDocument {
  _id: string;
  message: MailMessage;
  createdAt: Date;
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
  return doc._id;
}
