// Public surface of identity resolution: DID → { signing key, PDS endpoint, handle }.
// did-document parses (pure), resolver fetches (did:plc via a PLC directory, did:web via HTTPS),
// cache bounds, coalesces, limits and serves stale-if-error. Test support (mock PLC directory,
// mock did:web host) is imported from ./testing/ directly, never from here.

export type {
  CachedIdentity,
  CachingIdentityResolverOptions,
  IdentityCacheCounters,
} from './cache.ts'
export { CachingIdentityResolver } from './cache.ts'
export type { Identity, SigningKey } from './did-document.ts'
export { normalizePdsEndpoint, parseDidDocument } from './did-document.ts'
export { didWebDocumentUrl } from './did-web.ts'
export type {
  DidDocumentErrorReason,
  DidNotFoundReason,
  DidResolutionErrorReason,
} from './errors.ts'
export {
  DidDocumentError,
  DidNotFoundError,
  DidResolutionError,
  IdentityBusyError,
} from './errors.ts'
export type { DidResolverOptions, IdentityResolver } from './resolver.ts'
export {
  DEFAULT_MAX_DOCUMENT_BYTES,
  DEFAULT_MAX_REDIRECTS,
  DEFAULT_RESOLVE_TIMEOUT_MS,
  DidResolver,
} from './resolver.ts'
