import { calculateJwkThumbprint, errors, exportJWK, generateKeyPair, importJWK, jwtVerify, SignJWT, type JWK, type JWTPayload, type KeyLike } from 'jose';
import type { Reference } from '@medplum/fhirtypes';
import type { Clock } from '../clock';
import type { Database } from '../db/database';
import { isDuplicateKey } from '../db/transaction';
import type { LoginDoc } from './sessions';

/**
 * Tokens: the signing key (one ES256 pair shared by every instance, in `keys`), the signer that
 * makes and verifies access, refresh and id tokens, and the token response of a sign-in session.
 */
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

/** What an access token says (Medplum's claim names plus ours for a database-free verification). */
export interface AccessTokenClaims {
  login_id: string;
  sub: string;
  username: string;
  scope: string;
  /** The profile reference, e.g. 'Practitioner/123'. */
  profile: string;
  /** The ClientApplication the tokens were issued to, if any (MedplumClient checks it). */
  client_id?: string;
  project_id: string;
  membership_id: string;
  user_type: 'User' | 'ClientApplication';
  project_admin: boolean;
  super_admin: boolean;
}

export interface RefreshTokenClaims {
  login_id: string;
  refresh_secret: string;
}

export interface IdTokenClaims {
  login_id: string;
  sub: string;
  fhirUser: string;
  nonce: string;
  auth_time: number;
  client_id?: string;
}

const ACCESS_TYP = 'at+jwt';
const REFRESH_TYP = 'rt+jwt';
const ID_TYP = 'JWT';

/** Why a token was refused. */
export class TokenError extends Error {
  constructor(readonly reason: 'expired' | 'invalid') {
    super(reason === 'expired' ? 'token expired' : 'token invalid');
  }
}

export interface TokenSigner {
  accessToken(claims: AccessTokenClaims): Promise<string>;
  refreshToken(claims: RefreshTokenClaims): Promise<string>;
  idToken(claims: IdTokenClaims): Promise<string>;
  /** Signature, issuer, type and expiry (by the app's clock); TokenError otherwise. */
  verifyAccess(token: string): Promise<AccessTokenClaims>;
  verifyRefresh(token: string): Promise<RefreshTokenClaims>;
  accessTtlSeconds: number;
}

export interface SignerOptions {
  key: SigningKey;
  issuer: string;
  clock: Clock;
  accessTtlSeconds: number;
  refreshTtlSeconds: number;
}

function seconds(date: Date): number {
  return Math.floor(date.getTime() / 1000);
}

export function createTokenSigner(options: SignerOptions): TokenSigner {
  const { key, issuer, clock } = options;

  const sign = async (payload: JWTPayload, typ: string, ttlSeconds: number, audience?: string): Promise<string> => {
    const now = seconds(clock.now());
    const jwt = new SignJWT(payload).setProtectedHeader({ alg: key.alg, kid: key.kid, typ }).setIssuer(issuer).setIssuedAt(now).setExpirationTime(now + ttlSeconds);
    if (audience) {
      jwt.setAudience(audience);
    }
    return jwt.sign(key.privateKey);
  };

  const verify = async (token: string, typ: string): Promise<JWTPayload> => {
    if (typeof token !== 'string' || token.length === 0 || token.length > 8192) {
      throw new TokenError('invalid');
    }
    try {
      const { payload } = await jwtVerify(token, key.publicKey, { issuer, typ, algorithms: [key.alg], currentDate: clock.now() });
      return payload;
    } catch (err) {
      throw new TokenError(err instanceof errors.JWTExpired ? 'expired' : 'invalid');
    }
  };

  return {
    accessTtlSeconds: options.accessTtlSeconds,
    accessToken: (claims) => sign({ ...claims }, ACCESS_TYP, options.accessTtlSeconds),
    refreshToken: (claims) => sign({ ...claims }, REFRESH_TYP, options.refreshTtlSeconds),
    idToken: (claims) => sign({ ...claims }, ID_TYP, options.accessTtlSeconds, claims.client_id),
    verifyAccess: async (token) => {
      const payload = await verify(token, ACCESS_TYP);
      if (typeof payload.login_id !== 'string' || typeof payload.sub !== 'string' || typeof payload.project_id !== 'string' || typeof payload.membership_id !== 'string') {
        throw new TokenError('invalid');
      }
      return payload as unknown as AccessTokenClaims;
    },
    verifyRefresh: async (token) => {
      const payload = await verify(token, REFRESH_TYP);
      if (typeof payload.login_id !== 'string' || typeof payload.refresh_secret !== 'string') {
        throw new TokenError('invalid');
      }
      return payload as unknown as RefreshTokenClaims;
    },
  };
}

/** The token response, field for field what MedplumClient reads. */
export interface TokenResponse {
  token_type: 'Bearer';
  expires_in: number;
  scope: string;
  id_token: string;
  access_token: string;
  refresh_token?: string;
  project: Reference;
  profile: Reference;
  patient?: string;
}

/** Signs the access, id and (for user sign-ins) refresh tokens of a login with a membership. */
export async function issueTokens(signer: TokenSigner, login: LoginDoc, refreshSecret?: string): Promise<TokenResponse> {
  const profile = login.profile as Reference;
  const profileRef = profile.reference as string;
  const clientId = login.clientId;
  const access = await signer.accessToken({
    login_id: login._id,
    sub: login.userId,
    username: login.userId,
    scope: login.scope,
    profile: profileRef,
    ...(clientId ? { client_id: clientId } : {}),
    project_id: login.projectId as string,
    membership_id: login.membershipId as string,
    user_type: login.userType,
    project_admin: login.projectAdmin === true,
    super_admin: login.superAdmin === true,
  });
  const idToken = await signer.idToken({
    login_id: login._id,
    sub: login.userId,
    fhirUser: profileRef,
    nonce: login.nonce,
    auth_time: Math.floor(login.authTime.getTime() / 1000),
    ...(clientId ? { client_id: clientId } : {}),
  });
  const response: TokenResponse = {
    token_type: 'Bearer',
    expires_in: signer.accessTtlSeconds,
    scope: login.scope,
    id_token: idToken,
    access_token: access,
    project: { reference: `Project/${login.projectId}` },
    profile,
  };
  if (refreshSecret) {
    response.refresh_token = await signer.refreshToken({ login_id: login._id, refresh_secret: refreshSecret });
  }
  if (profileRef.startsWith('Patient/')) {
    response.patient = profileRef.slice('Patient/'.length);
  }
  return response;
}
