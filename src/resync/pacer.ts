// Paces the relay's requests to each host to its crawl rate (`crawl_rate`: repo fetches per
// second, set per host by operators): a caller waits until the host's next slot is free, so a
// resync of a large PDS, or a burst of repairs on one host, never asks it for more than that.
// Slots are handed out in arrival order. A host that answered 429 is held back until its limit
// resets (`rateLimited`: at most RATE_LIMIT_HOLD_MS away, RATE_LIMIT_DEFAULT_MS when the PDS names
// no time): every request waiting for it then waits past that time too. State is one timestamp
// per host (bounded by the hosts).
// Deliberately not here: what is fetched, retries.
/** Longest a 429 holds a host back (a PDS may name any reset time). */
export const RATE_LIMIT_HOLD_MS = 15 * 60_000
/** How long a 429 without a reset time holds the host back. */
export const RATE_LIMIT_DEFAULT_MS = 60_000

export class HostPacer {
  readonly #next = new Map<number, number>()
  readonly #now: () => number

  constructor(now: () => number = Date.now) {
    this.#now = now
  }

  /** No request to the host before `at` (ms, on this pacer's clock); later holds win. */
  holdUntil(hostId: number, at: number): void {
    if (at > (this.#next.get(hostId) ?? 0)) this.#next.set(hostId, at)
  }

  /** The host answered 429: no request before `retryAt` (ms since the epoch), within bounds. */
  rateLimited(hostId: number, retryAt: number | undefined): void {
    const now = this.#now()
    this.holdUntil(
      hostId,
      Math.min(retryAt ?? now + RATE_LIMIT_DEFAULT_MS, now + RATE_LIMIT_HOLD_MS),
    )
  }

  /** Resolves when the host may be asked once more at `perSecond` requests per second. */
  async take(hostId: number, perSecond: number, signal?: AbortSignal): Promise<void> {
    const now = this.#now()
    const at = Math.max(now, this.#next.get(hostId) ?? 0)
    this.#next.set(hostId, at + 1000 / Math.max(perSecond, 0.001))
    const wait = at - now
    if (wait <= 0) return
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort)
        resolve()
      }, wait)
      const onAbort = () => {
        clearTimeout(timer)
        reject(signal?.reason)
      }
      signal?.addEventListener('abort', onAbort, { once: true })
    })
  }
}
