// The failures of host admission, one class per outcome a caller branches on:
// - InvalidHostnameError: what was sent is not a hostname the relay may crawl (syntax or policy:
//   IP literal, port, localhost, path, ...). The api answers 400 `InvalidRequest`.
// - HostResolutionError: the name could not be resolved (no such name, resolver failure).
// - UnsafeAddressError: the name resolves to at least one non-public address (SSRF guard).
// - HostProbeError: the describeServer probe failed; `reason` says how. The api answers 400
//   `InvalidRequest` with the message, which is written to be shown to the public caller.
// Deliberately not here: the mapping to XRPC error names (api/), bans and rate limits (the
// registry decides those and has its own errors).

export type InvalidHostnameCode =
  | 'empty' // nothing left after trimming, or an empty name before a port
  | 'too-long' // the input or the name is over its length limit
  | 'non-ascii' // characters outside ASCII (send IDNs as punycode `xn--`)
  | 'invalid-character' // whitespace or control characters inside the input
  | 'scheme' // a scheme other than https, wss, http and ws
  | 'insecure-scheme' // http:// or ws:// without allowInsecure
  | 'userinfo' // `user@host`
  | 'path' // anything after the host other than a single `/`
  | 'query' // a `?query` or `#fragment`
  | 'port' // a port without allowInsecure, or a malformed port
  | 'ip-address' // an IPv4 or IPv6 literal, including numeric forms resolvers read as IPv4
  | 'localhost' // `localhost` or `*.localhost` without allowInsecure
  | 'single-label' // a name of one label without allowInsecure
  | 'special-use' // a reserved TLD (.local, .internal, .test, .arpa, ...) without allowInsecure
  | 'invalid-label' // an empty, over-long or badly formed label; a TLD not starting with a letter

export class InvalidHostnameError extends Error {
  override readonly name = 'InvalidHostnameError'
  readonly code: InvalidHostnameCode
  /** The input as sent (may be long or hostile: quote and truncate before logging). */
  readonly input: string

  constructor(input: string, code: InvalidHostnameCode, detail: string) {
    super(`invalid hostname ${quote(input)}: ${detail}`)
    this.code = code
    this.input = input
  }
}

export type HostResolutionReason =
  | 'not-found' // the resolver says the name does not exist or has no address
  | 'failed' // any other resolver failure (timeouts, SERVFAIL, ...)

export class HostResolutionError extends Error {
  override readonly name = 'HostResolutionError'
  readonly hostname: string
  readonly reason: HostResolutionReason

  constructor(hostname: string, reason: HostResolutionReason, options?: { cause?: unknown }) {
    super(
      reason === 'not-found'
        ? `${hostname} does not resolve to any address`
        : `resolving ${hostname} failed`,
      { cause: options?.cause },
    )
    this.hostname = hostname
    this.reason = reason
  }
}

export class UnsafeAddressError extends Error {
  override readonly name = 'UnsafeAddressError'
  readonly hostname: string
  /** The first non-public address found (kept out of the message, which may reach the public). */
  readonly address: string

  constructor(hostname: string, address: string) {
    super(`${hostname} resolves to a non-public address`)
    this.hostname = hostname
    this.address = address
  }
}

export type HostProbeFailure =
  | 'unreachable' // DNS failure, connection refused or reset, TLS failure
  | 'timeout' // no complete answer within the probe's time limit
  | 'not-a-pds' // answered, but not with a describeServer JSON object (non-200, redirect, bad body)
  | 'is-a-relay' // the Server header contains `atproto-relay` (relay loops, docs/design.md §4 item 5)
  | 'unsafe-address' // the host resolves to a non-public address
  | 'too-large' // the answer passed the probe's size cap

export class HostProbeError extends Error {
  override readonly name = 'HostProbeError'
  readonly hostname: string
  readonly reason: HostProbeFailure
  /** The HTTP status when the host answered, otherwise undefined. */
  readonly status: number | undefined

  constructor(
    hostname: string,
    reason: HostProbeFailure,
    detail: string,
    options?: { cause?: unknown; status?: number },
  ) {
    super(`host unreachable or not a PDS: ${detail}`, { cause: options?.cause })
    this.hostname = hostname
    this.reason = reason
    this.status = options?.status
  }
}

const QUOTE_MAX = 100

function quote(input: string): string {
  const cut = input.length > QUOTE_MAX ? `${input.slice(0, QUOTE_MAX)}…` : input
  return JSON.stringify(cut)
}

/** An operation named a host the relay does not know (the API answers 404 `HostNotFound`). */
export class UnknownHostError extends Error {
  override readonly name = 'UnknownHostError'
  readonly hostname: string

  constructor(hostname: string) {
    super(`host ${hostname.slice(0, 200)} is not known to this relay`)
    this.hostname = hostname
  }
}
