import { isIPv4, isIPv6 } from 'node:net';

/**
 * Which IP addresses a notification may be sent to: public unicast only. Refused: the
 * unspecified, loopback, private (RFC 1918), shared (CGNAT), link-local, documentation,
 * benchmarking, IETF-reserved, multicast and broadcast ranges of IPv4; for IPv6 everything
 * outside global unicast (2000::/3: so ::, ::1, fe80::/10, fc00::/7, ff00::/8 ...), documentation,
 * Teredo, 6to4 and the deprecated IPv4-compatible ::a.b.c.d; an IPv4 address carried inside IPv6
 * (mapped ::ffff:a.b.c.d, NAT64 64:ff9b::/96) is judged as that IPv4 address.
 */

/** [network, prefix length] */
const REFUSED_V4: readonly [string, number][] = [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
];

function v4Number(address: string): number {
  return address.split('.').reduce((n, part) => n * 256 + Number(part), 0);
}

const REFUSED_V4_RANGES = REFUSED_V4.map(([base, bits]) => ({ base: v4Number(base), size: 2 ** (32 - bits) }));

function refusedV4(address: string): boolean {
  const n = v4Number(address);
  return REFUSED_V4_RANGES.some((r) => n >= r.base && n < r.base + r.size);
}

/** The 8 groups of an IPv6 address (an embedded dotted IPv4 tail becomes two groups); undefined when malformed. */
export function ipv6Groups(address: string): number[] | undefined {
  let text = address.toLowerCase().replace(/%.*$/, '');
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    if (!isIPv4(dotted[1])) {
      return undefined;
    }
    const n = v4Number(dotted[1]);
    text = `${text.slice(0, -dotted[1].length)}${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) {
    return undefined;
  }
  const parse = (part: string): number[] => (part === '' ? [] : part.split(':').map((g) => (/^[0-9a-f]{1,4}$/.test(g) ? parseInt(g, 16) : NaN)));
  const head = parse(halves[0]);
  const tail = halves.length === 2 ? parse(halves[1]) : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) {
    return undefined;
  }
  const groups = [...head, ...new Array<number>(halves.length === 2 ? missing : 0).fill(0), ...tail];
  return groups.some((g) => Number.isNaN(g)) ? undefined : groups;
}

function v4From(high: number, low: number): string {
  return [high >> 8, high & 0xff, low >> 8, low & 0xff].join('.');
}

function refusedV6(address: string): boolean {
  const g = ipv6Groups(address);
  if (!g) {
    return true;
  }
  const zeroes = (from: number, to: number): boolean => g.slice(from, to).every((x) => x === 0);
  // IPv4-mapped (::ffff:a.b.c.d): judged as the IPv4 address it reaches.
  if (zeroes(0, 5) && g[5] === 0xffff) {
    return refusedV4(v4From(g[6], g[7]));
  }
  // NAT64 (64:ff9b::/96): the IPv4 address it reaches.
  if (g[0] === 0x64 && g[1] === 0xff9b && zeroes(2, 6)) {
    return refusedV4(v4From(g[6], g[7]));
  }
  // Only global unicast (2000::/3) is public; :: and ::1 fall outside it.
  if ((g[0] & 0xe000) !== 0x2000) {
    return true;
  }
  // Teredo 2001::/32, documentation 2001:db8::/32, IETF protocol assignments 2001::/23, 6to4 2002::/16.
  return (g[0] === 0x2001 && (g[1] < 0x200 || g[1] === 0xdb8)) || g[0] === 0x2002;
}

/** Whether a notification may never go to this address (unless its host is listed in SUBSCRIPTION_ALLOWED_HOSTS). */
export function isRefusedAddress(address: string): boolean {
  if (isIPv4(address)) {
    return refusedV4(address);
  }
  if (isIPv6(address)) {
    return refusedV6(address);
  }
  return true;
}
