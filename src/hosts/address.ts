// SSRF guard for outbound connections to hosts named by the public (docs/design.md §4 item 20): which IP
// addresses count as public, resolving a name to only public addresses, and `lookup` functions
// for node:net/http/https/ws that keep the connection on checked addresses.
//
// Not public (IANA special-purpose registries): IPv4 0/8, 10/8, 100.64/10 (CGNAT), 127/8,
// 169.254/16, 172.16/12, 192.0.0/24, 192.0.2/24, 192.88.99/24, 192.168/16, 198.18/15, 198.51.100/24,
// 203.0.113/24, 224/4 (multicast), 240/4 (reserved, broadcast). IPv6: everything outside global
// unicast 2000::/3 (so ::, ::1, fc00::/7, fe80::/10, fec0::/10, ff00::/8, 100::/64, 5f00::/16),
// and within it 2001::/23 (Teredo, benchmarking, ORCHID), 2001:db8::/32 and 3fff::/20
// (documentation), 2002::/16 (6to4, which can tunnel to any IPv4). IPv4-mapped (::ffff:a.b.c.d)
// and NAT64 (64:ff9b::a.b.c.d) addresses are judged by the IPv4 address they carry.
//
// DNS rebinding: a name checked here can resolve elsewhere a moment later, so checking a name and
// then connecting to it by name is not enough. The connection itself must be pinned to the checked
// addresses (`pinnedLookup`, as the probe does) or re-checked when it resolves (`publicOnlyLookup`,
// for long-lived sockets that reconnect). Note that node:net skips `lookup` for IP-literal hosts:
// those must be checked with `isPublicAddress` before connecting.
// Deliberately not here: hostname syntax (hostname.ts), HTTP (probe.ts), and any exemption for
// local development (callers skip these checks for localhost when insecure hosts are allowed).

import dns from 'node:dns'
import type { LookupFunction } from 'node:net'
import { BlockList, isIP } from 'node:net'
import { untilAborted } from '../net/host-request.ts'
import { HostResolutionError, UnsafeAddressError } from './errors.ts'
import { isLocalhostName } from './hostname.ts'

/** A promise-style "resolve every address" function; `dns.promises.lookup` is one. */
export type LookupAll = (
  hostname: string,
  options: { all: true },
) => Promise<readonly { address: string; family: number }[]>

const NON_PUBLIC_V4: readonly (readonly [string, number])[] = [
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
]

const NON_PUBLIC_V6_IN_GLOBAL: readonly (readonly [string, number])[] = [
  ['2001::', 23],
  ['2001:db8::', 32],
  ['2002::', 16],
  ['3fff::', 20],
]

// Lookup tables built once at load and never changed afterwards (not mutable state).
const nonPublicV4 = subnets(NON_PUBLIC_V4, 'ipv4')
const globalUnicastV6 = subnets([['2000::', 3]], 'ipv6')
const nonPublicV6 = subnets(NON_PUBLIC_V6_IN_GLOBAL, 'ipv6')

/** True when `ip` is an IPv4 or IPv6 address a public host may have; false for anything else. */
export function isPublicAddress(ip: string): boolean {
  const zone = ip.indexOf('%')
  const address = zone === -1 ? ip : ip.slice(0, zone)
  const family = isIP(address)
  if (family === 4) return !nonPublicV4.check(address, 'ipv4')
  if (family !== 6) return false
  const words = ipv6Words(address)
  const embedded = embeddedIPv4(words)
  if (embedded !== undefined) return !nonPublicV4.check(embedded, 'ipv4')
  return globalUnicastV6.check(address, 'ipv6') && !nonPublicV6.check(address, 'ipv6')
}

/**
 * Every address `hostname` resolves to, in resolver order; throws UnsafeAddressError when any of
 * them is not public (one bad address taints the name: a client may pick any), and
 * HostResolutionError when the name does not resolve. See the header on rebinding.
 */
export async function resolvePublicAddresses(
  hostname: string,
  lookup: LookupAll = dns.promises.lookup,
): Promise<string[]> {
  let found: readonly { address: string; family: number }[]
  try {
    found = await lookup(hostname, { all: true })
  } catch (err) {
    const code = (err as { code?: unknown } | null)?.code
    const notFound = code === 'ENOTFOUND' || code === 'ENODATA'
    throw new HostResolutionError(hostname, notFound ? 'not-found' : 'failed', { cause: err })
  }
  if (found.length === 0) throw new HostResolutionError(hostname, 'not-found')
  for (const { address } of found) {
    if (!isPublicAddress(address)) throw new UnsafeAddressError(hostname, address)
  }
  return found.map((a) => a.address)
}

/**
 * A node:net `lookup` that never asks DNS: it answers with `addresses` (already checked by the
 * caller), so the connection goes exactly where the check looked. Honours `family` and `all`.
 */
export function pinnedLookup(addresses: readonly string[]): LookupFunction {
  return (hostname, options, callback) => {
    process.nextTick(() => answer(hostname, addresses, options, callback))
  }
}

/**
 * A node:net `lookup` that resolves on every connection and fails the connection with
 * UnsafeAddressError (or HostResolutionError) unless every address is public: for sockets that
 * reconnect over hours, where pinning the first answer would outlive the host's DNS.
 */
export function publicOnlyLookup(lookup: LookupAll = dns.promises.lookup): LookupFunction {
  return (hostname, options, callback) => {
    resolvePublicAddresses(hostname, lookup).then(
      (addresses) => answer(hostname, addresses, options, callback),
      (err: Error) => callback(err, ''),
    )
  }
}

function answer(
  hostname: string,
  addresses: readonly string[],
  options: dns.LookupOptions,
  callback: Parameters<LookupFunction>[2],
): void {
  const wanted = options.family === 'IPv4' ? 4 : options.family === 'IPv6' ? 6 : options.family
  const usable = addresses
    .map((address) => ({ address, family: isIP(address) }))
    .filter((a) => a.family !== 0 && (!wanted || a.family === wanted))
  const first = usable[0]
  if (first === undefined) {
    callback(new HostResolutionError(hostname, 'not-found'), '')
  } else if (options.all === true) {
    callback(null, usable)
  } else {
    callback(null, first.address, first.family)
  }
}

function subnets(list: readonly (readonly [string, number])[], type: 'ipv4' | 'ipv6'): BlockList {
  const blocks = new BlockList()
  for (const [network, prefix] of list) blocks.addSubnet(network, prefix, type)
  return blocks
}

/** The eight 16-bit groups of a valid IPv6 address (checked by the caller with isIP). */
function ipv6Words(address: string): number[] {
  let text = address
  const lastColon = text.lastIndexOf(':')
  const tail = text.slice(lastColon + 1)
  if (tail.includes('.')) {
    const b = tail.split('.').map(Number)
    const hi = ((b[0] ?? 0) << 8) | (b[1] ?? 0)
    const lo = ((b[2] ?? 0) << 8) | (b[3] ?? 0)
    text = `${text.slice(0, lastColon + 1)}${hi.toString(16)}:${lo.toString(16)}`
  }
  const [head = '', rest] = text.split('::')
  const groups = (s: string) => (s.length === 0 ? [] : s.split(':'))
  const left = groups(head)
  const right = rest === undefined ? [] : groups(rest)
  const zeros = new Array<string>(8 - left.length - right.length).fill('0')
  return [...left, ...zeros, ...right].map((g) => Number.parseInt(g, 16))
}

/** The IPv4 address inside an IPv4-mapped (::ffff:0:0/96) or NAT64 (64:ff9b::/96) address. */
function embeddedIPv4(w: readonly number[]): string | undefined {
  const mapped =
    w[0] === 0 && w[1] === 0 && w[2] === 0 && w[3] === 0 && w[4] === 0 && w[5] === 0xffff
  const nat64 =
    w[0] === 0x64 && w[1] === 0xff9b && w[2] === 0 && w[3] === 0 && w[4] === 0 && w[5] === 0
  if (!mapped && !nat64) return undefined
  const hi = w[6] ?? 0
  const lo = w[7] ?? 0
  return `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`
}

/**
 * The one exception to the public-address rule: `localhost` (and `*.localhost`) when this relay
 * allows insecure hosts, for local development. Every outbound path (crawl probe, upstream dial,
 * did:web, getRepoStatus) asks this, so the rule is written once.
 */
export function exemptFromAddressGuard(hostname: string, allowInsecure: boolean): boolean {
  return allowInsecure && isLocalhostName(hostname)
}

/**
 * The `lookup` a request to `url` must connect with: pinned to the addresses checked here, so no
 * second DNS answer can move it. Throws UnsafeAddressError or HostResolutionError like
 * `resolvePublicAddresses`. Undefined (plain DNS) only for localhost when `allowLocalhost` (local
 * development with insecure hosts allowed).
 */
export async function checkedLookup(
  url: URL,
  allowLocalhost: boolean,
  signal: AbortSignal,
  lookup?: LookupAll,
): Promise<LookupFunction | undefined> {
  if (exemptFromAddressGuard(url.hostname, allowLocalhost)) return undefined
  const name = url.hostname.replace(/^\[(.*)\]$/, '$1')
  const addresses = isPublicAddress(name)
    ? [name]
    : await untilAborted(resolvePublicAddresses(name, lookup), signal)
  return pinnedLookup(addresses)
}

/**
 * How upstream names are resolved on every dial: public addresses only (a host that passed its
 * crawl check may point its DNS elsewhere later), except localhost in development. The same rule
 * wherever the socket runs (a socket thread builds its own from `allowInsecure`).
 */
export function upstreamLookup(
  allowInsecure: boolean,
): (hostname: string) => LookupFunction | undefined {
  const guard = publicOnlyLookup()
  return (hostname) => (exemptFromAddressGuard(hostname, allowInsecure) ? undefined : guard)
}
