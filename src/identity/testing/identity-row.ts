// Test support: a stored identity row (db/identities.ts) of a did:plc account on a PDS of the
// test's, resolved long ago. Deliberately not used by production code.
import type { IdentityRow } from '../../db/identities.ts'

export const identityRow = (did: string, resolvedAt = 1_000): IdentityRow => ({
  did,
  pds: 'https://pds.example.com',
  handle: 'a.test',
  key_type: 'Multikey',
  key: 'zQ3shOld',
  resolved_at: resolvedAt,
})
