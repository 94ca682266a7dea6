// The describeServer probe a host must pass before it is crawled (docs/design.md §4 items 5 and 20):
// `GET {https|http}://{hostname}/xrpc/com.atproto.server.describeServer`, once.
//
// Checked: the host resolves only to public addresses, and the connection is pinned to those
// addresses (no second DNS answer can move it: rebinding); both skipped only when allowInsecure
// and the host is `localhost`/`*.localhost`. A time limit over everything (DNS, connect, headers,
// body); a body size cap enforced while reading (a larger Content-Length is refused unread); no
// redirect is followed (a 3xx is "not a PDS"); a `Server` header containing `atproto-relay` is
// refused whatever the status (a relay is not a PDS); the answer must be HTTP 200 with a UTF-8
// JSON object. From it, `did` is returned only when it is a valid DID and `availableUserDomains`
// only as its string entries; both may be absent (lenient about PDS software versions).
// Every failure is a HostProbeError whose message can be shown to the requestCrawl caller.
// Transport: node:http/https with a fresh connection (no agent, no keep-alive), so the pinned
// lookup is used. A `fetch` may be injected instead (tests, proxies); it is then trusted to
// connect where the name resolves, and only the pre-connection address check applies.
// Deliberately not here: hostname syntax (hostname.ts), bans, limits and registration (registry).

import { errorCode, getFromHost, type HostResponse } from '../net/host-request.ts'
import { readCapped } from '../net/read-capped.ts'
import { isValidDid } from '../protocol/syntax/index.ts'
import type { LookupAll } from './address.ts'
import { checkedLookup } from './address.ts'
import { HostProbeError, HostResolutionError, UnsafeAddressError } from './errors.ts'

export interface ProbeTarget {
  /** A normalised hostname, `:PORT` included when there is one. */
  readonly hostname: string
  readonly ssl: boolean
}

/** The probe as the hosts part calls it (the relay binds the user agent; tests answer directly). */
export type Probe = (target: ProbeTarget, allowInsecure: boolean) => Promise<unknown>

export interface ProbeOptions {
  readonly userAgent: string
  /** Development mode: localhost targets skip the address checks. */
  readonly allowInsecure: boolean
  /** Time limit for the whole probe; default 10 s. */
  readonly timeoutMs?: number
  /** Body size cap; default 64 KiB (describeServer answers are a few hundred bytes). */
  readonly maxBytes?: number
  /** Replaces the pinned node:http transport (see the header). */
  readonly fetch?: typeof globalThis.fetch
  /** Resolver for the address check; default `dns.promises.lookup`. */
  readonly lookup?: LookupAll
  /** Aborting it rejects with its reason (not a HostProbeError: the host did nothing wrong). */
  readonly signal?: AbortSignal
}

export interface DescribeServerInfo {
  did?: string
  availableUserDomains?: string[]
}

export const DEFAULT_PROBE_TIMEOUT_MS = 10_000
export const DEFAULT_PROBE_MAX_BYTES = 64 * 1024
const PATH = '/xrpc/com.atproto.server.describeServer'

/** Probes `target`; resolves with what its describeServer says, or throws HostProbeError. */
export async function probeHost(
  target: ProbeTarget,
  opts: ProbeOptions,
): Promise<DescribeServerInfo> {
  const host = target.hostname
  const timeoutMs = opts.timeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS
  const maxBytes = opts.maxBytes ?? DEFAULT_PROBE_MAX_BYTES
  opts.signal?.throwIfAborted()
  let url: URL
  try {
    url = new URL(`${target.ssl ? 'https' : 'http'}://${host}${PATH}`)
  } catch (err) {
    throw new HostProbeError(host, 'unreachable', `${host} is not a usable hostname`, {
      cause: err,
    })
  }
  const timeout = AbortSignal.timeout(timeoutMs)
  const signal = opts.signal === undefined ? timeout : AbortSignal.any([timeout, opts.signal])
  const headers = { 'user-agent': opts.userAgent, accept: 'application/json' }
  try {
    const pinned = await checkedLookup(url, opts.allowInsecure, signal, opts.lookup)
    const res =
      opts.fetch === undefined
        ? await getFromHost(url, headers, signal, pinned)
        : await fetchGet(opts.fetch, url, headers, signal)
    return await interpret(host, res, maxBytes)
  } catch (err) {
    if (err instanceof HostProbeError) throw err
    if (opts.signal?.aborted) throw opts.signal.reason
    if (err instanceof UnsafeAddressError) {
      throw new HostProbeError(host, 'unsafe-address', `${host} resolves to a non-public address`, {
        cause: err,
      })
    }
    if (timeout.aborted) {
      throw new HostProbeError(host, 'timeout', `no answer from ${host} within ${timeoutMs} ms`, {
        cause: err,
      })
    }
    if (err instanceof HostResolutionError) {
      throw new HostProbeError(host, 'unreachable', `${host} does not resolve`, { cause: err })
    }
    throw new HostProbeError(host, 'unreachable', `could not connect to ${host}${errorCode(err)}`, {
      cause: err,
    })
  }
}

async function interpret(
  host: string,
  res: HostResponse,
  maxBytes: number,
): Promise<DescribeServerInfo> {
  const status = res.status
  const notPds = (detail: string, cause?: unknown) =>
    new HostProbeError(host, 'not-a-pds', `${host} ${detail}`, { status, cause })
  if (/atproto-relay/i.test(res.header('server') ?? '')) {
    await res.discard()
    throw new HostProbeError(host, 'is-a-relay', `${host} is a relay, not a PDS`, { status })
  }
  if (status >= 300 && status <= 399) {
    await res.discard()
    throw notPds(`answered describeServer with a redirect (HTTP ${status}), which is not followed`)
  }
  if (status !== 200) {
    await res.discard()
    throw notPds(`answered describeServer with HTTP ${status}`)
  }
  const body = await res.read(maxBytes)
  if (body === null) {
    throw new HostProbeError(
      host,
      'too-large',
      `${host}'s describeServer is over ${maxBytes} bytes`,
      {
        status,
      },
    )
  }
  let json: unknown
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body))
  } catch (err) {
    throw notPds('answered describeServer with something other than JSON', err)
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw notPds('answered describeServer with JSON that is not an object')
  }
  const info: DescribeServerInfo = {}
  const { did, availableUserDomains: domains } = json as Record<string, unknown>
  if (typeof did === 'string' && isValidDid(did)) info.did = did
  if (Array.isArray(domains)) {
    info.availableUserDomains = domains.filter((d): d is string => typeof d === 'string')
  }
  return info
}

async function fetchGet(
  fetch: typeof globalThis.fetch,
  url: URL,
  headers: Record<string, string>,
  signal: AbortSignal,
): Promise<HostResponse> {
  const res = await fetch(url, { method: 'GET', redirect: 'manual', headers, signal })
  return {
    status: res.status,
    header: (name) => res.headers.get(name),
    read: (maxBytes) => readCapped(res, maxBytes),
    async discard() {
      await res.body?.cancel().catch(() => {})
    },
  }
}
