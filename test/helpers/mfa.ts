import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import speakeasy from 'speakeasy';
import type { Clock } from '../../src/clock';
import { codeExchange, pkce } from './auth';

/** Every response body a suite saw, to scan for secrets at the end. */
export class ResponseLog {
  readonly bodies: string[] = [];

  async call(app: FastifyInstance, options: InjectOptions): Promise<LightMyRequestResponse> {
    const res = await app.inject(options);
    this.bodies.push(`${JSON.stringify(res.headers)}\n${res.body}`);
    return res;
  }

  /** The bodies that contain `secret`, to assert none do. */
  containing(secret: string): string[] {
    return this.bodies.filter((b) => b.includes(secret));
  }
}

export interface PkceLogin {
  verifier: string;
  body: Record<string, unknown>;
}

/** Starts a sign-in the way MedplumClient does (PKCE S256). */
export async function startLogin(log: ResponseLog, app: FastifyInstance, email: string, password: string): Promise<LightMyRequestResponse & { verifier: string }> {
  const { verifier, challenge } = pkce();
  const res = await log.call(app, {
    method: 'POST',
    url: '/auth/login',
    payload: { email, password, codeChallenge: challenge, codeChallengeMethod: 'S256', scope: 'openid' },
  });
  return Object.assign(res, { verifier });
}

/** Exchanges an authorization code for tokens. */
export async function exchangeCode(log: ResponseLog, app: FastifyInstance, code: string, verifier: string): Promise<LightMyRequestResponse> {
  return log.call(app, codeExchange(code, verifier));
}

/** The base32 secret inside an otpauth:// URI. */
export function secretOf(enrollUri: string): string {
  const secret = new URL(enrollUri).searchParams.get('secret');
  if (!secret) {
    throw new Error(`no secret in ${enrollUri}`);
  }
  return secret;
}

/** The code an authenticator app shows at the clock's current time (offsetSteps earlier/later). */
export function codeAt(secret: string, clock: Clock, offsetSteps = 0): string {
  return speakeasy.totp({ secret, encoding: 'base32', time: Math.floor(clock.now().getTime() / 1000) + offsetSteps * 30 });
}

/** A 6-digit code that is not valid for the secret anywhere near now. */
export function wrongCodeAt(secret: string, clock: Clock): string {
  const valid = new Set([-1, 0, 1].map((o) => codeAt(secret, clock, o)));
  for (let n = 123456; ; n = (n + 111111) % 1_000_000) {
    const candidate = String(n).padStart(6, '0');
    if (!valid.has(candidate)) {
      return candidate;
    }
  }
}
