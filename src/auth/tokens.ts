import { errors, jwtVerify, SignJWT, type JWTPayload } from 'jose';
import type { Clock } from '../clock';
import type { SigningKey } from './signing-keys';

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
