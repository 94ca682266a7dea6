// Parsers for network-shaped values: listen addresses (`:2470`, `HOST:PORT`, `[::1]:2470`),
// http(s) URLs (PLC directory, sibling relays), trusted proxy IPs and CIDRs, and trusted-domain
// patterns (`*.host.bsky.network`). Each returns a normalized typed value or throws
// InvalidValueError with examples.
// Choice documented for operators: `:PORT` listens on every IPv4 interface (host 0.0.0.0), which
// works on every machine; `[::]:PORT` asks for IPv6 (dual-stack on Linux).
// Deliberately not here: DNS lookups, SSRF rules for crawled hosts (hosts/ owns those).

import { isIP, isIPv6 } from 'node:net'
import { InvalidValueError } from './errors.ts'
import { quote } from './formats.ts'

export interface ListenAddress {
  readonly host: string
  /** 0 asks the OS for a free port (tests). */
  readonly port: number
}

/** Host given as `:PORT`: every IPv4 interface. */
export const ANY_HOST = '0.0.0.0'

const LISTEN_EXAMPLES = '(examples: :2470, 127.0.0.1:2470, [::1]:2470)'
const HOSTNAME =
  /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/i

export function parseListen(text: string): ListenAddress {
  const trimmed = text.trim()
  let host: string
  let portText: string
  if (trimmed.startsWith('[')) {
    const close = trimmed.indexOf(']')
    host = trimmed.slice(1, close)
    if (close < 0 || trimmed[close + 1] !== ':' || !isIPv6(host)) {
      throw new InvalidValueError(`${quote(text)} is not a listen address ${LISTEN_EXAMPLES}`)
    }
    portText = trimmed.slice(close + 2)
  } else {
    const colon = trimmed.lastIndexOf(':')
    if (colon < 0) {
      const hint = /^\d+$/.test(trimmed) ? ` (did you mean :${trimmed}?)` : ` ${LISTEN_EXAMPLES}`
      throw new InvalidValueError(`${quote(text)} has no port${hint}`)
    }
    host = trimmed.slice(0, colon)
    portText = trimmed.slice(colon + 1)
    if (host.includes(':')) {
      const message = host.includes('/')
        ? `${quote(text)} is a URL, not a listen address ${LISTEN_EXAMPLES}`
        : `${quote(text)}: put an IPv6 address in brackets, as in [::1]:2470`
      throw new InvalidValueError(message)
    }
    if (host === '') host = ANY_HOST
    else if (isIP(host) === 0 && !HOSTNAME.test(host)) {
      throw new InvalidValueError(`${quote(text)} has an invalid host ${LISTEN_EXAMPLES}`)
    }
  }
  const port = Number(portText)
  if (!/^\d{1,5}$/.test(portText) || port > 65535) {
    throw new InvalidValueError(
      `${quote(text)} has an invalid port (0 to 65535) ${LISTEN_EXAMPLES}`,
    )
  }
  return { host, port }
}

/** `0.0.0.0:2470`, `[::1]:2470`. */
export function formatListen(address: ListenAddress): string {
  return isIPv6(address.host)
    ? `[${address.host}]:${address.port}`
    : `${address.host}:${address.port}`
}

/**
 * An http or https URL without credentials, query or fragment, returned without a trailing
 * slash (`https://plc.directory/` → `https://plc.directory`).
 */
export function parseHttpUrl(text: string): string {
  const trimmed = text.trim()
  let url: URL
  try {
    url = new URL(trimmed)
  } catch {
    throw new InvalidValueError(
      `${quote(text)} is not a URL (examples: https://plc.directory, http://localhost:2582)`,
    )
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InvalidValueError(`${quote(url.protocol)} is not allowed here (use http or https)`)
  }
  if (url.username !== '' || url.password !== '') {
    throw new InvalidValueError('credentials are not allowed in this URL')
  }
  if (url.search !== '' || url.hash !== '') {
    throw new InvalidValueError(`${quote(text)} must not have a query or fragment`)
  }
  return url.href.replace(/\/+$/, '')
}

export interface TrustedProxy {
  readonly address: string
  readonly prefixLength: number
  /** As net.BlockList's addSubnet wants it. */
  readonly family: 'ipv4' | 'ipv6'
}

/** An IP (`10.0.0.1`, `::1`) or a CIDR (`10.0.0.0/8`, `fd00::/8`). */
export function parseTrustedProxy(text: string): TrustedProxy {
  const [address = '', prefix, extra] = text.trim().split('/')
  const version = isIP(address)
  if (version === 0 || extra !== undefined) {
    throw new InvalidValueError(
      `${quote(text)} is not an IP address or CIDR (examples: 10.0.0.1, 10.0.0.0/8, fd00::/8)`,
    )
  }
  const bits = version === 4 ? 32 : 128
  const prefixLength = prefix === undefined ? bits : Number(prefix)
  if (prefix !== undefined && (!/^\d{1,3}$/.test(prefix) || prefixLength > bits)) {
    throw new InvalidValueError(`${quote(text)} has an invalid prefix length (0 to ${bits})`)
  }
  return { address, prefixLength, family: version === 4 ? 'ipv4' : 'ipv6' }
}

/**
 * A hostname (`pds.example.com`) or a suffix pattern (`*.host.bsky.network`), lowercased, without
 * a trailing dot.
 */
export function parseDomainPattern(text: string): string {
  const lowered = text.trim().toLowerCase().replace(/\.$/, '')
  const wildcard = lowered.startsWith('*.')
  const name = wildcard ? lowered.slice(2) : lowered
  if (!HOSTNAME.test(name) || isIP(name) !== 0) {
    throw new InvalidValueError(
      `${quote(text)} is not a domain or *.domain pattern (examples: *.host.bsky.network, pds.example.com)`,
    )
  }
  return lowered
}
