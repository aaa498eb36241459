import type { AddressInfo } from 'node:net';
import { MedplumClient, type FetchLike, type ProfileResource } from '@medplum/core';
import type { FastifyInstance } from 'fastify';
import { ADMIN_EMAIL, ADMIN_PASSWORD } from './app';

/** The real MedplumClient against a listening app, for the suites that exercise the client library. */

/** Listens on a free loopback port; answers the base URL for a MedplumClient. */
export async function listen(app: FastifyInstance): Promise<string> {
  await app.listen({ port: 0, host: '127.0.0.1' });
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/`;
}

/** A client for the server at baseUrl, through Node's fetch unless given another. */
export function newMedplumClient(baseUrl: string, fetch: FetchLike = globalThis.fetch.bind(globalThis)): MedplumClient {
  return new MedplumClient({ baseUrl, fetch });
}

/** startLogin + processCode (the super administrator unless told otherwise); answers the profile. */
export async function signInClient(medplum: MedplumClient, email = ADMIN_EMAIL, password = ADMIN_PASSWORD): Promise<ProfileResource> {
  const { code } = await medplum.startLogin({ email, password });
  if (!code) {
    throw new Error(`startLogin answered no code for ${email}`);
  }
  return medplum.processCode(code);
}

const PKCE_FALLBACK = 'Failed to hash code verifier';

/**
 * MedplumClient (5.2) base64-encodes its S256 challenge with `window.btoa`; jest's node
 * environment has no `window`, so the client falls back to the 'plain' method and warns. No
 * client option supplies `window` or a hash function, so suites that sign the client in silence
 * that one warning for the whole suite (any other warning still shows). The S256 path itself is
 * covered in test/auth/medplum-client.test.ts, with `window` provided around startPkce.
 */
export function allowPlainPkceFallback(): void {
  let spy: jest.SpyInstance | undefined;
  beforeAll(() => {
    const warn = console.warn.bind(console);
    spy = jest.spyOn(console, 'warn').mockImplementation((...args: unknown[]) => {
      if (!String(args[0]).startsWith(PKCE_FALLBACK)) {
        warn(...args);
      }
    });
  });
  afterAll(() => {
    spy?.mockRestore();
  });
}
