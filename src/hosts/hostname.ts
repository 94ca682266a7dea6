// Hostname rules for the hosts the relay may crawl (docs/design.md §4 item 20): what a requestCrawl caller
// or an operator typed, turned into the one canonical name the registry keys hosts by, or refused
// with an InvalidHostnameError whose `code` says why. Pure.
//
// Accepted: `pds.example.com`, optionally with an `https://` or `wss://` scheme and a single
// trailing `/`, in any letter case (the result is lowercase). One trailing dot (the DNS root) is
// dropped, deliberately: `pds.example.com.` names the same host, and keeping both spellings would
// register it twice; two dots (an empty label) are refused.
// With allowInsecure (local development: --allow-insecure-hosts or the admin API) also: ports,
// `localhost` and `*.localhost`, single-label names, special-use TLDs (.test, .local, ...), and the
// `http://`/`ws://` schemes. Those schemes, and a localhost name without a scheme, give
// ssl=false; a port equal to the scheme's default is dropped; the hostname keeps any other port
// (`localhost:2583`), as the registry and the upstream URLs use it.
// Refused always: IP literals (v4, v6, and the numeric forms getaddrinfo reads as IPv4, such as
// `127.1`, `0x7f.1` or `2130706433`), userinfo, paths, queries and fragments, non-ASCII (send IDNs
// as punycode), malformed or over-long labels, names over 253 characters.
// Also here: domain-ban and trusted-domain matching over already normalised names.
// Deliberately not here: where a name resolves (address.ts), whether it answers (probe.ts), where
// the ban and trust lists come from, and rate limits (the registry).

import { isIP } from 'node:net'
import { InvalidHostnameError } from './errors.ts'

export interface NormalizedHost {
  /** Lowercase name, with `:PORT` only when allowInsecure let a non-default port through. */
  readonly hostname: string
  /** Whether to use https/wss (true) or http/ws (false). */
  readonly ssl: boolean
}

export interface HostnameOptions {
  readonly allowInsecure: boolean
}

const MAX_INPUT_LENGTH = 512
const MAX_NAME_LENGTH = 253
const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//
const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/
const NUMERIC_LABEL = /^(?:[0-9]+|0x[0-9a-f]*)$/
const PORT = /^[0-9]{1,5}$/

// TLDs reserved for special use (RFC 6761, 6762, 7686, 8375, 9476 and ICANN's .internal): never
// public hosts, fine in local development.
const SPECIAL_USE_TLDS: ReadonlySet<string> = new Set([
  'alt',
  'arpa',
  'example',
  'internal',
  'invalid',
  'local',
  'onion',
  'test',
])

/** Parses and checks a hostname as a requestCrawl caller sends it; throws InvalidHostnameError. */
export function normalizeHostname(input: string, opts: HostnameOptions): NormalizedHost {
  const allow = opts.allowInsecure
  const fail = (code: InvalidHostnameError['code'], detail: string) =>
    new InvalidHostnameError(input, code, detail)

  let rest = input.trim()
  if (rest.length === 0) throw fail('empty', 'empty')
  if (rest.length > MAX_INPUT_LENGTH) throw fail('too-long', 'input too long')
  for (let i = 0; i < rest.length; i++) {
    const c = rest.charCodeAt(i)
    if (c > 0x7e) throw fail('non-ascii', 'non-ASCII characters (use punycode)')
    if (c <= 0x20) throw fail('invalid-character', 'whitespace or control characters')
  }

  let ssl: boolean | undefined
  const scheme = SCHEME.exec(rest)
  if (scheme !== null) {
    const name = scheme[1]!.toLowerCase()
    if (name === 'https' || name === 'wss') ssl = true
    else if (name === 'http' || name === 'ws') {
      if (!allow) throw fail('insecure-scheme', `${name}:// is only allowed in development`)
      ssl = false
    } else throw fail('scheme', `unsupported scheme ${name}://`)
    rest = rest.slice(scheme[0].length)
  } else if (rest.includes('://')) {
    throw fail('scheme', 'malformed scheme')
  }

  const end = rest.search(/[/?#\\]/)
  const authority = end === -1 ? rest : rest.slice(0, end)
  if (end !== -1) {
    const tail = rest.slice(end)
    if (/[?#]/.test(tail)) throw fail('query', 'queries and fragments are not allowed')
    if (tail !== '/') throw fail('path', 'paths are not allowed')
  }
  if (authority.includes('@')) throw fail('userinfo', 'user names are not allowed')
  if (authority.startsWith('[') || isIP(authority) === 6) {
    throw fail('ip-address', 'IP addresses are not allowed')
  }

  let host = authority
  let port: number | undefined
  const colon = authority.indexOf(':')
  if (colon !== -1) {
    host = authority.slice(0, colon)
    const text = authority.slice(colon + 1)
    port = Number(text)
    if (!PORT.test(text) || port < 1 || port > 65535) throw fail('port', 'malformed port')
    if (!allow) throw fail('port', 'ports are not allowed')
  }

  host = host.toLowerCase()
  if (host.endsWith('.')) host = host.slice(0, -1)
  if (host.length === 0) throw fail('empty', 'empty hostname')
  if (host.length > MAX_NAME_LENGTH) throw fail('too-long', 'hostname too long')
  if (isIP(host) !== 0) throw fail('ip-address', 'IP addresses are not allowed')
  const labels = host.split('.')
  for (const label of labels) {
    if (!LABEL.test(label)) {
      throw fail('invalid-label', label.length === 0 ? 'empty label' : 'malformed label')
    }
  }
  const tld = labels[labels.length - 1]!
  if (NUMERIC_LABEL.test(tld)) throw fail('ip-address', 'IP addresses are not allowed')
  if (!/^[a-z]/.test(tld)) throw fail('invalid-label', 'top-level label must start with a letter')

  const localhost = tld === 'localhost'
  if (!allow) {
    if (localhost) throw fail('localhost', 'localhost is only allowed in development')
    if (labels.length === 1) throw fail('single-label', 'a domain name needs at least two labels')
    if (SPECIAL_USE_TLDS.has(tld)) throw fail('special-use', `.${tld} is not a public domain`)
  }

  const secure = ssl ?? !localhost
  if (port === (secure ? 443 : 80)) port = undefined
  return { hostname: port === undefined ? host : `${host}:${port}`, ssl: secure }
}

/** True for `localhost` and `*.localhost` (RFC 6761: always loopback), with or without a port. */
export function isLocalhostName(hostname: string): boolean {
  const name = bareName(hostname)
  return name === 'localhost' || name.endsWith('.localhost')
}

/**
 * True when `hostname` is a banned domain or under one, on label boundaries: banning
 * `example.com` bans `example.com` and `a.example.com`, not `badexample.com`. Ban entries are
 * compared case-insensitively; a leading `*.` or `.` and a trailing dot are ignored, and empty
 * entries are skipped (they would otherwise ban everything). Linear in the number of bans.
 */
export function isDomainBanned(hostname: string, bans: Iterable<string>): boolean {
  const name = bareName(hostname)
  for (const entry of bans) {
    const ban = trimPattern(entry).replace(/^\*?\./, '')
    if (ban.length === 0) continue
    if (name === ban || name.endsWith(`.${ban}`)) return true
  }
  return false
}

/**
 * True when `hostname` matches a trusted-domain pattern: `*.host.bsky.network` matches any name
 * below `host.bsky.network` (at any depth, not the name itself); any other pattern matches that
 * exact name, with or without the hostname's port (a pattern with a port matches only that port).
 * A bare `*` or an empty pattern matches nothing.
 */
export function isTrustedDomain(hostname: string, patterns: Iterable<string>): boolean {
  const full = trimPattern(hostname)
  const name = bareName(hostname)
  for (const entry of patterns) {
    const pattern = trimPattern(entry)
    if (pattern.startsWith('*.')) {
      const suffix = pattern.slice(1)
      if (suffix.length > 1 && name.endsWith(suffix) && name.length > suffix.length) return true
    } else if (pattern.length > 0 && pattern !== '*' && (pattern === name || pattern === full)) {
      return true
    }
  }
  return false
}

/** Lowercase, without surrounding whitespace or a trailing dot. */
function trimPattern(s: string): string {
  const t = s.trim().toLowerCase()
  return t.endsWith('.') ? t.slice(0, -1) : t
}

/** The name without `:PORT` and without a trailing dot, lowercase. */
function bareName(hostname: string): string {
  let name = hostname.trim().toLowerCase()
  const colon = name.lastIndexOf(':')
  if (colon !== -1 && PORT.test(name.slice(colon + 1))) name = name.slice(0, colon)
  return name.endsWith('.') ? name.slice(0, -1) : name
}
