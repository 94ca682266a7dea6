// Identity lookups for ingest: a DID's identity from the cache, or resolved with a bounded number
// of retries (backing off), and fresh re-resolutions (purge, then resolve) that a host can cause,
// rate-limited per host (docs/design.md §4 item 11): by `#identity`, by events naming another
// host, or by a failed signature. One host cannot flood the PLC directory or starve everyone's
// lookups; over its budget, the cached identity is used as it is.
// Deliberately not here: what a mismatch means (handlers.ts decides), caching (identity/).
import type { Identity } from '../identity/did-document.ts'
import type { IngestDeps } from './types.ts'

const PURGES_PER_SECOND = 10
const PURGE_BURST = 100
/** Hosts with a budget kept; past this the budgets start afresh (bounded memory). */
const MAX_BUDGETS = 100_000

export type IdentityLookupDeps = Pick<IngestDeps, 'identity' | 'now'> & {
  readonly identityRetry: { readonly attempts: number; readonly delayMs: number }
}

export class IdentityLookups {
  readonly #d: IdentityLookupDeps
  /** Per-host budget of fresh re-resolutions. */
  readonly #purgeBudget = new Map<number, { tokens: number; at: number }>()

  constructor(deps: IdentityLookupDeps) {
    this.#d = deps
  }

  /**
   * The DID's identity: the cached one, unless `fresh` asks for a new resolution (then within
   * `hostId`'s budget of re-resolutions). Null when it cannot be resolved after the retries.
   */
  async resolve(did: string, fresh: boolean, hostId?: number): Promise<Identity | null> {
    if (fresh && (hostId === undefined || this.#mayPurge(hostId))) this.#d.identity.purge(did)
    else {
      const cached = this.#d.identity.peek(did)
      if (cached) return cached
    }
    const { attempts, delayMs } = this.#d.identityRetry
    for (let i = 0; i < attempts; i++) {
      try {
        return (await this.#d.identity.resolve(did)).identity
      } catch {
        if (i + 1 < attempts) await new Promise((r) => setTimeout(r, delayMs * 2 ** i))
      }
    }
    return null
  }

  #mayPurge(hostId: number): boolean {
    const now = this.#d.now()
    const b = this.#purgeBudget.get(hostId) ?? { tokens: PURGE_BURST, at: now }
    b.tokens = Math.min(PURGE_BURST, b.tokens + ((now - b.at) / 1000) * PURGES_PER_SECOND)
    b.at = now
    if (this.#purgeBudget.size > MAX_BUDGETS) this.#purgeBudget.clear()
    this.#purgeBudget.set(hostId, b)
    if (b.tokens < 1) return false
    b.tokens--
    return true
  }
}
