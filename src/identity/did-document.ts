// Extracting what the relay needs from a DID document (https://atproto.com/specs/did): the
// atproto signing key, the PDS endpoint and the claimed handle. Pure: no I/O, no clock.
//
// Checked: the document is an object whose `id` is exactly the DID asked for; the arrays we read
// are arrays of bounded length; the signing key is the first verificationMethod whose id is
// `#atproto` or `<did>#atproto` (a controller other than the DID voids it); the PDS is the first
// service whose id is `#atproto_pds` or `<did>#atproto_pds`, of type AtprotoPersonalDataServer,
// with an http(s) endpoint of scheme, host and optional port only; the handle is the first
// `at://` entry of alsoKnownAs, lowercased and syntax-checked. A missing or unusable key, PDS or
// handle yields null for that field, not an error: the account exists but is broken, and the
// callers (verify, ingest) decide what that means.
//
// Deliberately not checked: the key bytes or curve (src/verify/crypto parses the multibase), that
// the handle resolves back to the DID (consumers verify handles), whether an http:// or IP-literal
// PDS endpoint is acceptable (host policy lives in src/hosts/), any field we do not use.

import { isValidHandle } from '../protocol/syntax/index.ts'
import { DidDocumentError } from './errors.ts'
import { sharedEndpoint } from './pds-endpoints.ts'

export interface SigningKey {
  /** verificationMethod type as published: normally `Multikey`, legacy documents use others. */
  readonly type: string
  readonly publicKeyMultibase: string
}

export interface Identity {
  readonly did: string
  /** `scheme://host[:port]`, lowercase host, no trailing slash; null if absent or unusable. */
  readonly pds: string | null
  /** First `at://` alsoKnownAs entry, lowercased; null if none or not a valid handle. */
  readonly handle: string | null
  /** The `#atproto` verification method; null if absent or unusable. */
  readonly signingKey: SigningKey | null
}

/** Longest array (alsoKnownAs, verificationMethod, service) accepted before giving up. */
export const MAX_DOCUMENT_ARRAY_ENTRIES = 64
const MAX_ID_LENGTH = 2200 // a DID (<= 2048) plus a fragment
const MAX_TYPE_LENGTH = 128
const MAX_KEY_LENGTH = 512
const MAX_URL_LENGTH = 2048

const PDS_SERVICE_TYPE = 'AtprotoPersonalDataServer'
const MULTIKEY = 'Multikey'

/**
 * Parses an untrusted DID document (already JSON-decoded) for `did`.
 * Throws DidDocumentError: 'not-an-object', 'id-mismatch', 'too-large' (an array longer than
 * MAX_DOCUMENT_ARRAY_ENTRIES) or 'malformed' (a field we read has the wrong JSON type).
 */
export function parseDidDocument(did: string, doc: unknown): Identity {
  if (!isRecord(doc)) throw new DidDocumentError(did, 'not-an-object', 'not a JSON object')
  if (doc.id !== did) {
    const got = typeof doc.id === 'string' ? JSON.stringify(doc.id.slice(0, 100)) : typeof doc.id
    throw new DidDocumentError(did, 'id-mismatch', `document id is ${got}`)
  }
  const aliases = boundedArray(did, doc, 'alsoKnownAs')
  const methods = boundedArray(did, doc, 'verificationMethod')
  const services = boundedArray(did, doc, 'service')
  return {
    did,
    pds: findPds(did, services),
    handle: findHandle(aliases),
    signingKey: findSigningKey(did, methods),
  }
}

/**
 * `scheme://host[:port]` for an http(s) URL made of scheme, host and optional port (a lone `/`
 * path is tolerated); null for anything else (paths, queries, fragments, credentials).
 */
export function normalizePdsEndpoint(raw: string): string | null {
  if (raw.length > MAX_URL_LENGTH || raw.includes('?') || raw.includes('#')) return null
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    return null
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return null
  if (url.username !== '' || url.password !== '' || url.hostname === '') return null
  if (url.pathname !== '/' && url.pathname !== '') return null
  // URL already lowercases the host, punycodes IDNs and drops a default port.
  return `${url.protocol}//${url.host}`
}

function findSigningKey(did: string, methods: readonly unknown[]): SigningKey | null {
  const method = methods.find((m) => isRecord(m) && isFragmentRef(did, m.id, 'atproto'))
  if (!isRecord(method)) return null
  if (method.controller !== undefined && method.controller !== did) return null
  const { type, publicKeyMultibase } = method
  if (!isBoundedString(type, MAX_TYPE_LENGTH)) return null
  if (!isBoundedString(publicKeyMultibase, MAX_KEY_LENGTH)) return null
  // Nearly every key is a Multikey: keep the one constant rather than the document's copy.
  return { type: type === MULTIKEY ? MULTIKEY : type, publicKeyMultibase }
}

function findPds(did: string, services: readonly unknown[]): string | null {
  const service = services.find((s) => isRecord(s) && isFragmentRef(did, s.id, 'atproto_pds'))
  if (!isRecord(service) || service.type !== PDS_SERVICE_TYPE) return null
  const endpoint = service.serviceEndpoint
  if (typeof endpoint !== 'string') return null
  const normalized = normalizePdsEndpoint(endpoint)
  return normalized === null ? null : sharedEndpoint(normalized)
}

function findHandle(aliases: readonly unknown[]): string | null {
  const alias = aliases.find((a) => typeof a === 'string' && a.startsWith('at://'))
  if (typeof alias !== 'string') return null
  const handle = alias.slice('at://'.length).toLowerCase()
  return isValidHandle(handle) ? handle : null
}

/** `#fragment` (relative to the document) or `<did>#fragment`. */
function isFragmentRef(did: string, id: unknown, fragment: string): boolean {
  if (typeof id !== 'string' || id.length > MAX_ID_LENGTH) return false
  const hash = id.length - fragment.length - 1
  if (hash < 0 || id.charCodeAt(hash) !== 0x23 || !id.endsWith(fragment)) return false
  return hash === 0 || (hash === did.length && id.startsWith(did))
}

function boundedArray(did: string, doc: Record<string, unknown>, field: string): unknown[] {
  const value = doc[field]
  if (value === undefined || value === null) return []
  if (!Array.isArray(value))
    throw new DidDocumentError(did, 'malformed', `${field} is not an array`)
  if (value.length > MAX_DOCUMENT_ARRAY_ENTRIES) {
    throw new DidDocumentError(did, 'too-large', `${field} has ${value.length} entries`)
  }
  return value
}

function isBoundedString(value: unknown, max: number): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= max
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
