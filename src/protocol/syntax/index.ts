// Public surface of atproto identifier syntax: pure validators and parsers, no I/O.

export type { DidMethod } from './did.ts'
export { assertDid, didMethod, didWebHost, isValidDid, isValidDidPlc } from './did.ts'
export type { SyntaxKind } from './errors.ts'
export { InvalidSyntaxError } from './errors.ts'
export { assertHandle, isDisallowedHandleTld, isValidHandle, normalizeHandle } from './handle.ts'
