// The identity cache's side of the stored identities (stored-identities.ts): one read per DID
// however many resolve it at once; a read bounded in time (a database that hangs, or a pooled
// connection gone half-open, is a miss after STORE_READ_TIMEOUT_MS, so identity lookups never
// wait on it longer); a read voided by a purge made while it ran (the host said the identity
// changed: the old one must not come back); a "not found" forgets only where a row may exist. What
// failed, timed out or was dropped for the bound is counted through `count`.
// Deliberately not here: the times applied to what is read (cache.ts), the writes.
import type { Identity } from './did-document.ts'
import type { IdentityMemory, StoredIdentity } from './stored-identities.ts'

/** Longest wait for a stored identity before the directory is asked instead. */
export const STORE_READ_TIMEOUT_MS = 1_000

export type StoreCount = 'storeFailures' | 'storeDropped'

export class StoredReads {
  readonly #memory: IdentityMemory
  readonly #count: (what: StoreCount) => void
  readonly #timeoutMs: number
  /** Reads under way, by DID. */
  readonly #reading = new Map<string, Promise<StoredIdentity | undefined>>()
  /** DIDs purged while their read ran: it answers nothing. */
  readonly #voided = new Set<string>()

  constructor(
    memory: IdentityMemory,
    count: (what: StoreCount) => void,
    timeoutMs = STORE_READ_TIMEOUT_MS,
  ) {
    this.#memory = memory
    this.#count = count
    this.#timeoutMs = timeoutMs
  }

  /** `did`'s stored identity; undefined when there is none, the read failed or was voided. */
  read(did: string): Promise<StoredIdentity | undefined> {
    let reading = this.#reading.get(did)
    if (reading === undefined) {
      reading = this.#bounded(did)
        .then((found) => (this.#voided.has(did) ? undefined : found))
        .finally(() => {
          this.#reading.delete(did)
          this.#voided.delete(did)
        })
      this.#reading.set(did, reading)
    }
    return reading
  }

  remember(identity: Identity, resolvedAt: number): void {
    if (!this.#memory.remember(identity, resolvedAt)) this.#count('storeDropped')
  }

  /**
   * `mayExist`: a row may exist (a purge: always; a "not found": when the cache held an identity
   * for the DID). A read under way is voided either way.
   */
  forget(did: string, mayExist: boolean): void {
    if (this.#reading.has(did)) this.#voided.add(did)
    else if (!mayExist) return
    if (!this.#memory.forget(did)) this.#count('storeDropped')
  }

  async #bounded(did: string): Promise<StoredIdentity | undefined> {
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), this.#timeoutMs)
    })
    try {
      const found = await Promise.race([this.#memory.load(did), late])
      if (found !== 'late') return found
    } catch {
      // A miss: the directory is asked, as without stored identities.
    } finally {
      clearTimeout(timer)
    }
    this.#count('storeFailures')
    return undefined
  }
}
