// DID → Identity over the network, uncached: did:plc from a PLC directory (`GET {plcUrl}/{did}`)
// and did:web from `https://{host}/.well-known/did.json`.
//
// Checked: DID syntax and method before any request (only plc and web are supported; a did:plc
// must be the 24-character base32 form, so nothing odd reaches a URL); every request carries the
// caller-supplied User-Agent, a time limit and a size cap (document-fetch.ts); the document's id
// must be the DID asked for (did-document.ts).
// Deliberately not done here: caching, coalescing and concurrency limits (cache.ts), verifying a
// PLC operation log (we trust the configured directory, as the reference relay does), and
// resolving handles.

import { isValidDid, isValidDidPlc } from '../protocol/syntax/index.ts'
import type { Identity } from './did-document.ts'
import { parseDidDocument } from './did-document.ts'
import { didWebDocumentUrl } from './did-web.ts'
import { type DocumentFetchOptions, fetchDidJson } from './document-fetch.ts'
import { DidDocumentError, DidResolutionError } from './errors.ts'

/** Anything that turns a DID into its current Identity (the resolver, a cache, a test fake). */
export interface IdentityResolver {
  /**
   * Rejects with DidNotFoundError when the DID does not exist or is tombstoned, and with
   * DidResolutionError for everything else that prevents an answer.
   */
  resolve(did: string, signal?: AbortSignal): Promise<Identity>
}

export interface DidResolverOptions {
  /** PLC directory base URL, e.g. `https://plc.directory`; `http://` is allowed (development). */
  readonly plcUrl: string
  /** Sent on every request: names the relay and an operator contact (docs/design.md §4 item 4). */
  readonly userAgent: string
  /** Time limit per resolution, connect to last body byte. Default 10 s. */
  readonly timeoutMs?: number
  /** Largest document accepted. Default 64 KiB. */
  readonly maxBytes?: number
  /** Redirects followed per resolution. Default 3. */
  readonly maxRedirects?: number
  /** Allow did:web on localhost / 127.0.0.1 (plain http when a port is given). Default false. */
  readonly allowInsecureWeb?: boolean
  /** For did:web: called with each hostname before fetching it; throws to refuse (SSRF). */
  readonly checkWebHost?: (hostname: string) => Promise<void>
  /** For did:plc documents (the directory). Defaults to the global fetch. */
  readonly fetch?: DocumentFetchOptions['fetch']
  /**
   * For did:web documents, instead of `fetch`: the composition root passes one that connects
   * only to checked public addresses (a name must not pass `checkWebHost` and then resolve
   * elsewhere).
   */
  readonly webFetch?: DocumentFetchOptions['fetch']
}

export const DEFAULT_RESOLVE_TIMEOUT_MS = 10_000
export const DEFAULT_MAX_DOCUMENT_BYTES = 64 * 1024
export const DEFAULT_MAX_REDIRECTS = 3

export class DidResolver implements IdentityResolver {
  readonly #plcUrl: string
  readonly #allowInsecureWeb: boolean
  readonly #fetchOptions: DocumentFetchOptions
  readonly #webFetchOptions: DocumentFetchOptions

  constructor(options: DidResolverOptions) {
    this.#plcUrl = normalizePlcUrl(options.plcUrl)
    if (typeof options.userAgent !== 'string' || options.userAgent.trim() === '') {
      throw new TypeError('DidResolver: userAgent is required')
    }
    this.#allowInsecureWeb = options.allowInsecureWeb ?? false
    this.#fetchOptions = {
      userAgent: options.userAgent,
      timeoutMs: positive('timeoutMs', options.timeoutMs, DEFAULT_RESOLVE_TIMEOUT_MS),
      maxBytes: positive('maxBytes', options.maxBytes, DEFAULT_MAX_DOCUMENT_BYTES),
      maxRedirects: nonNegative('maxRedirects', options.maxRedirects, DEFAULT_MAX_REDIRECTS),
      fetch: options.fetch ?? globalThis.fetch,
    }
    this.#webFetchOptions = {
      ...this.#fetchOptions,
      ...(options.webFetch && { fetch: options.webFetch }),
      ...(options.checkWebHost && { checkHost: options.checkWebHost }),
    }
  }

  /** The URL the document of `did` is fetched from; throws DidResolutionError if none. */
  documentUrl(did: string): string {
    if (!isValidDid(did)) throw new DidResolutionError(did, 'invalid-did', 'not a DID')
    if (did.startsWith('did:plc:')) {
      if (!isValidDidPlc(did)) throw new DidResolutionError(did, 'invalid-did', 'not a did:plc')
      return `${this.#plcUrl}/${did}`
    }
    if (did.startsWith('did:web:')) return didWebDocumentUrl(did, this.#allowInsecureWeb)
    const method = did.slice(4, did.indexOf(':', 4))
    throw new DidResolutionError(did, 'unsupported-method', `DID method "${method}" not supported`)
  }

  async resolve(did: string, signal?: AbortSignal): Promise<Identity> {
    const url = this.documentUrl(did)
    const options = did.startsWith('did:web:') ? this.#webFetchOptions : this.#fetchOptions
    const json = await fetchDidJson(did, url, options, signal)
    try {
      return parseDidDocument(did, json)
    } catch (err) {
      if (!(err instanceof DidDocumentError)) throw err
      const reason = err.reason === 'id-mismatch' ? 'id-mismatch' : 'bad-document'
      throw new DidResolutionError(did, reason, err.message, { cause: err })
    }
  }
}

function normalizePlcUrl(raw: string): string {
  let url: URL
  try {
    url = new URL(raw)
  } catch (err) {
    throw new TypeError(`DidResolver: plcUrl is not a URL: ${raw}`, { cause: err })
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new TypeError(`DidResolver: plcUrl must be http(s): ${raw}`)
  }
  if (url.search !== '' || url.hash !== '') {
    throw new TypeError(`DidResolver: plcUrl must not have a query or fragment: ${raw}`)
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`
}

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback
  if (!Number.isFinite(value) || value <= 0) throw new RangeError(`DidResolver: bad ${name}`)
  return value
}

function nonNegative(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback
  if (!Number.isInteger(value) || value < 0) throw new RangeError(`DidResolver: bad ${name}`)
  return value
}
