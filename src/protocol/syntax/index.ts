// Public surface of atproto identifier syntax: pure validators and parsers, no I/O.

export { assertCidString, isValidCidString } from './cid-string.ts'
export { assertDatetime, isValidDatetime } from './datetime.ts'
export type { DidMethod } from './did.ts'
export { assertDid, didMethod, didWebHost, isValidDid, isValidDidPlc } from './did.ts'
export type { SyntaxKind } from './errors.ts'
export { InvalidSyntaxError } from './errors.ts'
export { assertHandle, isDisallowedHandleTld, isValidHandle, normalizeHandle } from './handle.ts'
export { assertNsid, isValidNsid } from './nsid.ts'
export { assertRecordKey, isValidRecordKey } from './record-key.ts'
export type { RepoPath } from './repo-path.ts'
export { isValidRepoPath, parseRepoPath } from './repo-path.ts'
export type { ParsedTid, TidClockOptions } from './tid.ts'
export {
  assertTid,
  compareTid,
  createTid,
  isValidTid,
  parseTid,
  TidClock,
  tidTimestampMs,
} from './tid.ts'
