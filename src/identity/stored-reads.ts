// The identity cache's side of the stored identities (stored-identities.ts): one read per DID
// however many resolve it at once; a read bounded in time (a database that hangs, or a pooled
// connection gone half-open, is a miss after STORE_READ_TIMEOUT_MS, and after such a miss the
// table is not read at all for STORE_PAUSE_MS, so reads that hang do not pile up); what a read
// finds handed to `take` in the same step as the check that no purge voided it (the host said
// the identity changed: the old one must not come back); a "not found" forgets only where a row
// may exist (the cache held an identity, or a read of the DID failed). What failed or timed out
// is counted through `count`.
// Deliberately not here: the times applied to what is read (cache.ts), the writes.
import type { Identity } from './did-document.ts'
import type { IdentityMemory, StoredIdentity } from './stored-identities.ts'

/** Longest wait for a stored identity before the directory is asked instead. */
export const STORE_READ_TIMEOUT_MS = 1_000
/** After a read failed or timed out, how long the table is left alone. */
export const STORE_PAUSE_MS = 5_000
/** DIDs whose read failed, remembered (a row may exist for them) at most; then forgotten. */
const MAX_FAILED = 10_000

export interface StoredReadsOptions {
  readonly memory: IdentityMemory
  /** Takes what a read found (not voided) into the cache. */
  readonly take: (did: string, found: StoredIdentity) => void
  readonly countFailure: () => void
  readonly now: () => number
  readonly timeoutMs?: number
}

export class StoredReads {
  readonly #o: StoredReadsOptions
  readonly #timeoutMs: number
  /** Reads under way, by DID. */
  readonly #reading = new Map<string, Promise<void>>()
  /** DIDs purged while their read ran: it takes nothing. */
  readonly #voided = new Set<string>()
  /** DIDs whose read failed: a row may exist. */
  readonly #failed = new Set<string>()
  #pausedUntil = 0

  constructor(options: StoredReadsOptions) {
    this.#o = options
    this.#timeoutMs = options.timeoutMs ?? STORE_READ_TIMEOUT_MS
  }

  /** Reads `did`'s stored identity and hands it to `take` unless voided; never rejects. */
  read(did: string): Promise<void> {
    let reading = this.#reading.get(did)
    if (reading === undefined) {
      if (this.#o.now() < this.#pausedUntil) return Promise.resolve()
      reading = this.#bounded(did)
        .then((found) => {
          if (found !== undefined && !this.#voided.has(did)) this.#o.take(did, found)
        })
        .finally(() => {
          this.#reading.delete(did)
          this.#voided.delete(did)
        })
      this.#reading.set(did, reading)
    }
    return reading
  }

  remember(identity: Identity, resolvedAt: number): void {
    this.#failed.delete(identity.did)
    this.#o.memory.remember(identity, resolvedAt)
  }

  /**
   * `mayExist`: a row may exist (a purge: always; a "not found": when the cache held an identity
   * for the DID). A read under way is voided either way.
   */
  forget(did: string, mayExist: boolean): void {
    if (this.#reading.has(did)) this.#voided.add(did)
    else if (!mayExist && !this.#failed.has(did)) return
    this.#failed.delete(did)
    this.#o.memory.forget(did)
  }

  async #bounded(did: string): Promise<StoredIdentity | undefined> {
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), this.#timeoutMs)
      timer.unref()
    })
    try {
      const found = await Promise.race([this.#o.memory.load(did), late])
      if (found !== 'late') return found
    } catch {
      // A miss: the directory is asked, as without stored identities.
    } finally {
      clearTimeout(timer)
    }
    this.#o.countFailure()
    this.#pausedUntil = this.#o.now() + STORE_PAUSE_MS
    if (this.#failed.size >= MAX_FAILED) this.#failed.clear()
    this.#failed.add(did)
    return undefined
  }
}
