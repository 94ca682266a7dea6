// The client's address for per-IP limits and logs (docs/design.md §4 item 21): the socket's peer,
// unless that peer is a configured trusted proxy, in which case the nearest address in
// `X-Forwarded-For` that is not itself a trusted proxy. A proxy header from anyone else is
// ignored (it could be forged).
import { BlockList, isIP } from 'node:net'
import type { TrustedProxy } from '../config/addresses.ts'

/** Whether an address (IPv4, IPv6 or IPv4-mapped IPv6) is one of the trusted proxies. */
export function trustedProxyCheck(proxies: readonly TrustedProxy[]): (ip: string) => boolean {
  if (proxies.length === 0) return () => false
  const list = new BlockList()
  for (const p of proxies) list.addSubnet(p.address, p.prefixLength, p.family)
  return (ip) => {
    const plain = ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip
    const family = isIP(plain)
    return family !== 0 && list.check(plain, family === 4 ? 'ipv4' : 'ipv6')
  }
}

export function clientAddressResolver(
  proxies: readonly TrustedProxy[],
): (peer: string, forwardedFor: string | string[] | undefined) => string {
  if (proxies.length === 0) return (peer) => peer
  const trusted = trustedProxyCheck(proxies)
  return (peer, forwardedFor) => {
    if (!trusted(peer) || forwardedFor === undefined) return peer
    const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor)
      .split(',')
      .map((h) => h.trim())
      .filter((h) => isIP(h) !== 0)
    for (let i = hops.length - 1; i >= 0; i--) if (!trusted(hops[i]!)) return hops[i]!
    return hops[0] ?? peer
  }
}
