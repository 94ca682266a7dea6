// The closed list of reasons an upstream event is dropped (docs/design.md §4 item 12). The same
// strings are used in metrics labels, logs, the admin API and tests. Add a reason here (and to
// docs/design.md) when a new one is needed; never invent one ad hoc at a call site.

export const DROP_REASONS = [
  'undecodable-frame',
  'non-canonical-cbor',
  'unknown-type',
  // A decodable message whose body does not match its Lexicon
  // (missing or mistyped required fields, bad DID/TID/datetime syntax).
  'invalid-message',
  'legacy-type',
  'seq-not-increasing',
  'frame-too-large',
  'blocks-too-large',
  'record-too-large',
  'too-many-ops',
  'bad-car',
  'bad-commit',
  'commit-mismatch',
  'bad-signature',
  'identity-unavailable',
  'wrong-host',
  'future-rev',
  'stale-rev',
  'missing-prev-data',
  'inversion-failed',
  'account-inactive',
  'account-takendown',
  'account-throttled',
  'host-banned',
] as const

export type DropReason = (typeof DROP_REASONS)[number]

const known: ReadonlySet<string> = new Set(DROP_REASONS)

export function isDropReason(value: string): value is DropReason {
  return known.has(value)
}
