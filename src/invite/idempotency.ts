import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import type { ClientSession } from 'mongodb';
import { recordWrite } from '../db/commit-ledger';
import type { Store } from '../db/store';
import { badRequest, FhirError } from '../errors';

/**
 * Idempotency-Key support: the first successful invite stores its answer under the key, in the
 * invite's own transaction; a request with the same key and the same body answers that stored
 * result, a different body is refused (422). Keys are scoped to the caller.
 *
 * Nothing secret is stored in the clear: the document id is a hash of caller and key, the request
 * fingerprint is an HMAC keyed by the raw Idempotency-Key (which only the caller knows), and an
 * activation link in the answer is sealed (AES-256-GCM) with a key derived from it.
 */

export const IDEMPOTENCY = 'idempotency';
/** How long a key is remembered. */
export const IDEMPOTENCY_TTL_MS = 24 * 3600_000;

interface Sealed {
  iv: string;
  tag: string;
  data: string;
}

export interface IdempotencyDoc {
  _id: string;
  fingerprint: string;
  status: number;
  body: unknown;
  /** A secret part of the answer (the activation link), sealed with the raw key. */
  sealed?: Sealed;
  /** Random per write: tells this transaction's document from a concurrent one with the same key. */
  nonce: string;
  createdAt: Date;
  expiresAt: Date;
}

/** A key presented by a caller, ready to look up and seal with. */
export interface IdempotencyKey {
  id: string;
  raw: string;
}

export interface StoredAnswer {
  status: number;
  body: unknown;
  secret?: string;
}

/** Reads the Idempotency-Key header: absent → undefined; malformed → 400. */
export function idempotencyKey(header: unknown, callerRef: string): IdempotencyKey | undefined {
  if (header === undefined) {
    return undefined;
  }
  if (typeof header !== 'string' || !/^[\x21-\x7e]{1,255}$/.test(header)) {
    throw badRequest('Idempotency-Key must be 1 to 255 printable characters without spaces', 'Idempotency-Key');
  }
  return { id: createHash('sha256').update(`${callerRef}\n${header}`).digest('hex'), raw: header };
}

/** JSON with sorted object keys, so equal requests give equal fingerprints. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) {
    return `[${value.map(canonicalJson).join(',')}]`;
  }
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

export function fingerprint(key: IdempotencyKey, request: unknown): string {
  return createHmac('sha256', key.raw).update(canonicalJson(request)).digest('hex');
}

function sealingKey(key: IdempotencyKey): Buffer {
  return Buffer.from(hkdfSync('sha256', key.raw, key.id, 'invite-idempotency-seal', 32));
}

function seal(key: IdempotencyKey, secret: string): Sealed {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', sealingKey(key), iv);
  const data = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
  return { iv: iv.toString('base64'), tag: cipher.getAuthTag().toString('base64'), data: data.toString('base64') };
}

function unseal(key: IdempotencyKey, sealed: Sealed): string {
  const decipher = createDecipheriv('aes-256-gcm', sealingKey(key), Buffer.from(sealed.iv, 'base64'));
  decipher.setAuthTag(Buffer.from(sealed.tag, 'base64'));
  return Buffer.concat([decipher.update(Buffer.from(sealed.data, 'base64')), decipher.final()]).toString('utf8');
}

/**
 * The stored answer for this key, or undefined when none (or expired). The same key with a
 * different request → 422.
 */
export async function findAnswer(deps: Store, key: IdempotencyKey, print: string, session?: ClientSession): Promise<StoredAnswer | undefined> {
  const doc = await deps.database.db.collection<IdempotencyDoc>(IDEMPOTENCY).findOne({ _id: key.id }, { session });
  if (!doc || doc.expiresAt.getTime() <= deps.clock.now().getTime()) {
    return undefined;
  }
  if (doc.fingerprint !== print) {
    throw new FhirError('FST_UNPROCESSABLE', 'This Idempotency-Key was already used with a different request; use a new key for a new request', 'Idempotency-Key');
  }
  return { status: doc.status, body: doc.body, secret: doc.sealed ? unseal(key, doc.sealed) : undefined };
}

/** Stores the answer in the caller's transaction (replacing an expired one); answers its nonce. */
export async function storeAnswer(
  deps: Store,
  session: ClientSession,
  key: IdempotencyKey,
  print: string,
  answer: StoredAnswer,
): Promise<string> {
  const now = deps.clock.now();
  const collection = deps.database.db.collection<IdempotencyDoc>(IDEMPOTENCY);
  await collection.deleteOne({ _id: key.id, expiresAt: { $lte: now } }, { session });
  const doc: IdempotencyDoc = {
    _id: key.id,
    fingerprint: print,
    status: answer.status,
    body: answer.body,
    nonce: randomBytes(12).toString('base64url'),
    createdAt: now,
    expiresAt: new Date(now.getTime() + IDEMPOTENCY_TTL_MS),
  };
  if (answer.secret !== undefined) {
    doc.sealed = seal(key, answer.secret);
  }
  await collection.insertOne(doc, { session });
  recordWrite(session, { collection: IDEMPOTENCY, id: doc._id, match: { nonce: doc.nonce } });
  return doc.nonce;
}
