// The failures identity resolution reports, one class per outcome a caller branches on:
// - DidDocumentError: a document (already fetched, already JSON) is not usable for the DID asked.
// - DidNotFoundError: the authority says the DID does not exist (404) or is tombstoned (410).
//   This is an answer, not an outage: it is negatively cached and never masked by a stale value.
// - DidResolutionError: the answer could not be obtained or trusted (network, timeout, 5xx, bad
//   JSON, bad document, id mismatch, unsupported method). Transient or not, the caller may keep
//   using a previously known identity (stale-if-error).
// - IdentityBusyError: the resolver's bounded wait queue is full; nothing was asked upstream.
// Deliberately not here: mapping these to drop reasons or XRPC errors (ingest and api do that).

export type DidDocumentErrorReason = 'not-an-object' | 'id-mismatch' | 'too-large' | 'malformed'

export class DidDocumentError extends Error {
  override readonly name = 'DidDocumentError'
  readonly did: string
  readonly reason: DidDocumentErrorReason

  constructor(did: string, reason: DidDocumentErrorReason, message: string) {
    super(`DID document for ${did}: ${message}`)
    this.did = did
    this.reason = reason
  }
}

export type DidNotFoundReason = 'not-found' | 'tombstoned'

export class DidNotFoundError extends Error {
  override readonly name = 'DidNotFoundError'
  readonly did: string
  readonly reason: DidNotFoundReason
  /** HTTP status the authority answered with (404 or 410). */
  readonly status: number

  constructor(did: string, reason: DidNotFoundReason, status: number) {
    super(reason === 'tombstoned' ? `DID is tombstoned: ${did}` : `DID not found: ${did}`)
    this.did = did
    this.reason = reason
    this.status = status
  }
}

export type DidResolutionErrorReason =
  | 'invalid-did' // not a DID, or a form atproto does not support (did:web with a path)
  | 'unsupported-method' // a DID method other than plc and web
  | 'insecure-not-allowed' // a did:web on a loopback host or with a port, without allowInsecureWeb
  | 'network' // connection refused, reset, DNS failure
  | 'timeout' // the resolver's own time limit passed
  | 'aborted' // the caller's signal aborted
  | 'http-status' // an HTTP status other than 200, 404 and 410 (5xx, 4xx, 3xx without Location)
  | 'too-many-redirects'
  | 'bad-redirect' // a redirect to another scheme than http(s), or from https down to http
  | 'unsafe-host' // a did:web host (or redirect target) that is not on a public address (SSRF)
  | 'too-large' // the body passed the size cap
  | 'bad-json' // not UTF-8 or not JSON
  | 'bad-document' // JSON, but not a usable DID document
  | 'id-mismatch' // the document's id is not the DID asked for

export class DidResolutionError extends Error {
  override readonly name = 'DidResolutionError'
  readonly did: string
  readonly reason: DidResolutionErrorReason
  /** HTTP status when reason is 'http-status', otherwise undefined. */
  readonly status: number | undefined

  constructor(
    did: string,
    reason: DidResolutionErrorReason,
    message: string,
    options?: { cause?: unknown; status?: number },
  ) {
    super(`resolving ${did}: ${message}`, { cause: options?.cause })
    this.did = did
    this.reason = reason
    this.status = options?.status
  }
}

export class IdentityBusyError extends Error {
  override readonly name = 'IdentityBusyError'
  readonly did: string
  readonly reason: 'queue-full'
  /** Lookups that were waiting when this one was refused. */
  readonly queued: number

  constructor(did: string, queued: number) {
    super(`identity resolver busy (${queued} lookups queued), refused ${did}`)
    this.did = did
    this.reason = 'queue-full'
    this.queued = queued
  }
}
