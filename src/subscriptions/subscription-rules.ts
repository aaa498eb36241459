import type { Extension, Subscription } from '@medplum/fhirtypes';
import { WRITE_ONLY_EXTENSIONS } from '../access/access-scope';
import { badRequest } from '../errors';
import { EndpointError, parseEndpoint } from './endpoint';

/**
 * What a Subscription must hold to be stored (besides its criteria, see criteria.ts): a
 * rest-hook channel with an endpoint the SSRF rules accept, an optional payload of
 * `application/fhir+json` (the resource is POSTed) or none (a bodiless ping), `channel.header`
 * entries of the form `Name: value` that do not replace the headers the server sets, and at most
 * one signing secret (Medplum's `subscription-secret` extension, `valueString`, 16 to 512 characters).
 */

/** Medplum's extension holding the signing secret (WRITE_ONLY_EXTENSIONS lists it and its former URL). */
export const SUBSCRIPTION_SECRET_URL = 'https://www.medplum.com/fhir/StructureDefinition/subscription-secret';
const SECRET_URLS = WRITE_ONLY_EXTENSIONS.Subscription;

/** The statuses under which changes are queued: `error` too, so that nothing is lost until it is set back to active. */
export const QUEUEING_STATUSES = ['active', 'error'] as const;

/** Headers the server sets itself; a channel.header entry may not name them. */
const RESERVED_HEADER = /^(content-type|content-length|content-encoding|host|transfer-encoding|connection|keep-alive|upgrade|te|trailer|expect|x-signature|x-event-id|x-medplum-.*|proxy-.*)$/i;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$/;
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]{0,4096}$/;
const MAX_HEADERS = 20;

/** The payload as stored: the resource as JSON, or nothing (a ping). */
export type PayloadKind = 'resource' | 'ping';

export function payloadKind(payload: string | undefined): PayloadKind | undefined {
  if (payload === undefined || payload === '') {
    return 'ping';
  }
  const mediaType = payload.split(';')[0].trim().toLowerCase();
  return mediaType === 'application/fhir+json' || mediaType === 'application/json' ? 'resource' : undefined;
}

/** channel.header as [name, value] pairs (split at the first colon, both sides trimmed). */
export function parseHeaders(headers: readonly string[] | undefined): [string, string][] {
  const list = headers ?? [];
  if (list.length > MAX_HEADERS) {
    throw badRequest(`channel.header may hold at most ${MAX_HEADERS} entries`, 'Subscription.channel.header');
  }
  return list.map((entry, i) => {
    const expression = `Subscription.channel.header[${i}]`;
    const colon = typeof entry === 'string' ? entry.indexOf(':') : -1;
    if (colon <= 0) {
      throw badRequest(`channel.header[${i}] must look like "Name: value"`, expression);
    }
    const name = entry.slice(0, colon).trim();
    const value = entry.slice(colon + 1).trim();
    if (!HEADER_NAME.test(name) || !HEADER_VALUE.test(value)) {
      throw badRequest(`channel.header[${i}] must look like "Name: value", with a plain header name and a value on one line`, expression);
    }
    if (RESERVED_HEADER.test(name)) {
      throw badRequest(`channel.header[${i}]: ${name} is set by the server and cannot be replaced`, expression);
    }
    return [name, value];
  });
}

/** The signing secret, or undefined when the Subscription has none (server side only: answers never carry it). */
export function subscriptionSecret(subscription: Subscription): string | undefined {
  for (const url of SECRET_URLS) {
    const value = subscription.extension?.find((e: Extension) => e.url === url)?.valueString;
    if (typeof value === 'string' && value !== '') {
      return value;
    }
  }
  return undefined;
}

function checkSecret(subscription: Subscription): void {
  const secrets = (subscription.extension ?? []).filter((e) => SECRET_URLS.includes(e.url));
  if (secrets.length === 0) {
    return;
  }
  const value = secrets[0].valueString;
  if (secrets.length > 1 || typeof value !== 'string' || value.length < 16 || value.length > 512 || !/^[\x21-\x7e]+$/.test(value)) {
    throw badRequest(
      'The subscription-secret extension must appear once, with a valueString of 16 to 512 printable characters (no spaces)',
      `Subscription.extension('${SUBSCRIPTION_SECRET_URL}')`,
    );
  }
}

/** The checks that need no name resolution nor database (the endpoint's addresses are checked by the caller). */
export function checkSubscriptionShape(subscription: Subscription, allowedHosts: readonly string[]): void {
  const channel = subscription.channel;
  if (channel?.type !== 'rest-hook') {
    throw badRequest(`channel.type "${String(channel?.type ?? '').slice(0, 32)}" is not supported: this server delivers rest-hook subscriptions only`, 'Subscription.channel.type');
  }
  try {
    parseEndpoint(channel.endpoint, allowedHosts);
  } catch (err) {
    if (err instanceof EndpointError) {
      throw badRequest(err.message, 'Subscription.channel.endpoint');
    }
    throw err;
  }
  if (!payloadKind(channel.payload)) {
    throw badRequest('channel.payload must be application/fhir+json (the resource is sent) or absent (an empty ping)', 'Subscription.channel.payload');
  }
  parseHeaders(channel.header);
  checkSecret(subscription);
}
