import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { isRefusedAddress } from './ip-ranges';

/**
 * Where a rest-hook notification may go (server-side request forgery rules), checked when a
 * Subscription is written and again before every delivery:
 * - `https`, or `http` only to a host listed in SUBSCRIPTION_ALLOWED_HOSTS;
 * - no user name or password in the URL (they would end up in logs);
 * - the host, and every address its name resolves to, must be public (see ip-ranges.ts), unless
 *   the URL's host itself is listed (listing an address does not allow a name resolving to it).
 *   Every IP notation the URL parser accepts (decimal `2130706433`, octal `0177.0.0.1`, hex
 *   `0x7f.1`, IPv4-mapped IPv6) is normalised by it first.
 * The delivery connects to the very address that was checked (no second DNS answer can swap in
 * another one: DNS rebinding).
 */

/** Why an endpoint is refused; the message is meant for the Subscription's author. */
export class EndpointError extends Error {}

export interface EndpointPolicy {
  /** SUBSCRIPTION_ALLOWED_HOSTS, as the config normalised them. */
  allowedHosts: readonly string[];
  /** Name resolution (tests may give their own); default: the system resolver, every address. */
  resolve?: (host: string) => Promise<{ address: string; family: number }[]>;
  /** How long a name may take to resolve. */
  dnsTimeoutMs?: number;
}

/** An endpoint that passed the rules, with the address to connect to. */
export interface CheckedEndpoint {
  url: URL;
  /** The URL's host, without IPv6 brackets. */
  host: string;
  address: string;
  family: 4 | 6;
}

const MAX_URL_LENGTH = 2048;
const DNS_TIMEOUT_MS = 3000;

/** The URL checks that need no name resolution. */
export function parseEndpoint(raw: unknown, allowedHosts: readonly string[]): { url: URL; host: string; listed: boolean } {
  if (typeof raw !== 'string' || raw.trim() === '') {
    throw new EndpointError('channel.endpoint is required: the https URL notifications are POSTed to');
  }
  if (raw.length > MAX_URL_LENGTH) {
    throw new EndpointError(`channel.endpoint is longer than ${MAX_URL_LENGTH} characters`);
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new EndpointError('channel.endpoint is not a valid absolute URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new EndpointError('channel.endpoint must be an https URL');
  }
  if (url.username || url.password) {
    throw new EndpointError('channel.endpoint must not carry a user name or password: use channel.header for credentials');
  }
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const listed = allowedHosts.includes(host);
  if (url.protocol === 'http:' && !listed) {
    throw new EndpointError(`channel.endpoint must use https (plain http only to hosts listed in SUBSCRIPTION_ALLOWED_HOSTS, which ${host} is not)`);
  }
  return { url, host, listed };
}

async function resolveAll(policy: EndpointPolicy, host: string): Promise<{ address: string; family: number }[]> {
  const resolve = policy.resolve ?? ((name: string) => lookup(name, { all: true, verbatim: true }));
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new EndpointError(`the host ${host} of channel.endpoint did not resolve in time`)), policy.dnsTimeoutMs ?? DNS_TIMEOUT_MS);
  });
  try {
    return await Promise.race([resolve(host), timeout]);
  } catch (err) {
    if (err instanceof EndpointError) {
      throw err;
    }
    throw new EndpointError(`the host ${host} of channel.endpoint cannot be resolved`);
  } finally {
    clearTimeout(timer);
  }
}

/** Every check, name resolution included; answers the address to connect to. */
export async function checkEndpoint(raw: unknown, policy: EndpointPolicy): Promise<CheckedEndpoint> {
  const { url, host, listed } = parseEndpoint(raw, policy.allowedHosts);
  const literal = isIP(host);
  if (literal) {
    if (!listed && isRefusedAddress(host)) {
      throw new EndpointError(`channel.endpoint points at ${host}, a private, loopback, link-local or otherwise non-public address`);
    }
    return { url, host, address: host, family: literal as 4 | 6 };
  }
  const addresses = await resolveAll(policy, host);
  if (addresses.length === 0) {
    throw new EndpointError(`the host ${host} of channel.endpoint cannot be resolved`);
  }
  for (const { address } of addresses) {
    if (!listed && isRefusedAddress(address)) {
      throw new EndpointError(`the host ${host} of channel.endpoint resolves to ${address}, a private, loopback, link-local or otherwise non-public address`);
    }
  }
  const [first] = addresses;
  return { url, host, address: first.address, family: first.family === 6 ? 6 : 4 };
}
