// Test and bench support: an account store in a Map, for an AccountCache whose database is not
// what is being tested. Deliberately not used by production code.
import type { AccountPersistence } from './account-cache.ts'
import type { AccountState } from './account-state.ts'

/** Loads from and saves into `stored` (the checkpoint seq is not kept). */
export function mapPersistence(stored: Map<string, AccountState>): AccountPersistence {
  return {
    load: async (did) => stored.get(did),
    save: async (states) => {
      for (const s of states) stored.set(s.did, s)
    },
  }
}
