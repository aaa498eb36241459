import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type JWK, type KeyLike } from 'jose';
import type { Clock } from '../clock';
import type { Database } from '../db/database';
import { isDuplicateKey } from '../db/transaction';

export const KEYS = 'keys';
export const SIGNING_ALG = 'ES256';
/** The one current signing key; a fixed _id makes create-if-absent race-safe across instances. */
const CURRENT_KEY_ID = 'token-signing-es256';

/** The stored key pair. The private half is a secret: it never leaves the database and this process. */
interface KeyDoc {
  _id: string;
  kid: string;
  alg: typeof SIGNING_ALG;
  publicJwk: JWK;
  privateJwk: JWK;
  createdAt: Date;
}

export interface SigningKey {
  kid: string;
  alg: typeof SIGNING_ALG;
  privateKey: KeyLike | Uint8Array;
  publicKey: KeyLike | Uint8Array;
  /** The public JWK (with kid, alg, use), as published at /.well-known/jwks.json. */
  publicJwk: JWK;
}

async function generateKeyDoc(now: Date): Promise<KeyDoc> {
  const { publicKey, privateKey } = await generateKeyPair(SIGNING_ALG, { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  const privateJwk = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  return { _id: CURRENT_KEY_ID, kid, alg: SIGNING_ALG, publicJwk, privateJwk, createdAt: now };
}

/**
 * Loads the token signing key, generating and storing it on the very first start. Several
 * instances starting at once all end up with the one key that won the insert (unique _id).
 */
export async function loadOrCreateSigningKey(database: Database, clock: Clock): Promise<SigningKey> {
  const collection = database.db.collection<KeyDoc>(KEYS);
  let doc = await collection.findOne({ _id: CURRENT_KEY_ID });
  if (!doc) {
    const fresh = await generateKeyDoc(clock.now());
    try {
      await collection.insertOne(fresh);
      doc = fresh;
    } catch (err) {
      if (!isDuplicateKey(err)) {
        throw err;
      }
      doc = await collection.findOne({ _id: CURRENT_KEY_ID });
      if (!doc) {
        throw new Error('signing key vanished after a concurrent insert');
      }
    }
  }
  const publicJwk: JWK = { ...doc.publicJwk, kid: doc.kid, alg: doc.alg, use: 'sig' };
  return {
    kid: doc.kid,
    alg: doc.alg,
    privateKey: await importJWK(doc.privateJwk, doc.alg),
    publicKey: await importJWK(doc.publicJwk, doc.alg),
    publicJwk,
  };
}
