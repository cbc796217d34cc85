import { lookup as dnsLookup, LookupAddress } from 'node:dns';
import { BlockList, isIP, LookupFunction } from 'node:net';

/** Where a key holder must not be able to send requests through rowcast: the host's own networks. */
const PRIVATE = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local, cloud metadata services
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
] as const) {
  PRIVATE.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::', 96], // unspecified, loopback and IPv4-compatible (::a.b.c.d)
  ['64:ff9b::', 96], // NAT64: an IPv4 address behind a translator
  ['2002::', 16], // 6to4: an IPv4 address inside
  ['fc00::', 7], // unique local
  ['fec0::', 10], // site-local (deprecated, still routed by some)
  ['fe80::', 10], // link-local
  ['ff00::', 8], // multicast
] as const) {
  PRIVATE.addSubnet(network, prefix, 'ipv6');
}

/**
 * Whether an address is one of the host's own networks, or could reach one: IPv4-mapped addresses
 * are checked as the IPv4 address (BlockList does that), other IPv6 forms that embed an IPv4
 * address (compatible, NAT64, 6to4) are refused whole, public or not.
 */
export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  return family === 0 || PRIVATE.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

/** Why a request to `host`, an IP address, is refused; undefined for names and allowed addresses. */
export function refusedAddress(host: string, allowPrivate: boolean): string | undefined {
  const bare = host.replace(/^\[(.*)\]$/, '$1');
  if (allowPrivate || !isIP(bare)) return undefined;
  return isPrivateAddress(bare) ? `${host} is a private, loopback or link-local address` : undefined;
}

/** Why a request to `host` is refused, or undefined; host names are resolved (all their addresses). */
export async function refusedTarget(host: string, allowPrivate: boolean): Promise<string | undefined> {
  const bare = host.replace(/^\[(.*)\]$/, '$1');
  if (allowPrivate || isIP(bare)) return refusedAddress(host, allowPrivate);
  const addresses = await new Promise<LookupAddress[] | Error>((resolve) =>
    dnsLookup(bare, { all: true }, (error, found) => resolve(error ?? found)),
  );
  if (addresses instanceof Error) return `${host} does not resolve`;
  const hidden = addresses.find((found) => isPrivateAddress(found.address));
  return hidden ? `${host} resolves to a private, loopback or link-local address (${hidden.address})` : undefined;
}

/**
 * dns.lookup for the connections themselves: a name that resolved to a public address when the
 * webhook was created may point inward by the time of a delivery (DNS rebinding).
 */
export function guardedLookup(allowPrivate: boolean): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
      if (error) return callback(error, '', 0);
      const usable = allowPrivate ? addresses : addresses.filter((found) => !isPrivateAddress(found.address));
      if (!usable.length) {
        return callback(Object.assign(new Error(`${hostname} resolves to a private, loopback or link-local address`), { code: 'EPRIVATE' }), '', 0);
      }
      if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, usable);
      callback(null, usable[0].address, usable[0].family);
    });
  };
}
