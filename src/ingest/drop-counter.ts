// Counts every upstream event the relay does not pass on, per host and reason (DESIGN.md §4
// item 12), keeps the last occurrence of each (for operators: "why is my PDS not flowing?"),
// and hands each drop to a listener (the logger). Memory is bounded by hosts × reasons.
import type { DropReason } from '../protocol/drop-reasons.ts'

export interface DropRecord {
  count: number
  lastAt: number
  lastDid: string | null
  lastDetail: string
}

export interface Drop {
  readonly hostId: number
  readonly reason: DropReason
  readonly did: string | null
  readonly seq: number | undefined
  readonly detail: string
}

export class DropCounter {
  readonly #byHost = new Map<number, Map<DropReason, DropRecord>>()
  readonly #totals = new Map<DropReason, number>()
  readonly #listener: ((drop: Drop) => void) | undefined
  readonly #now: () => number

  constructor(opts: { onDrop?: (drop: Drop) => void; now?: () => number } = {}) {
    this.#listener = opts.onDrop
    this.#now = opts.now ?? Date.now
  }

  record(drop: Drop): void {
    let host = this.#byHost.get(drop.hostId)
    if (!host) {
      host = new Map()
      this.#byHost.set(drop.hostId, host)
    }
    const entry = host.get(drop.reason) ?? { count: 0, lastAt: 0, lastDid: null, lastDetail: '' }
    entry.count++
    entry.lastAt = this.#now()
    entry.lastDid = drop.did
    entry.lastDetail = drop.detail.slice(0, 300)
    host.set(drop.reason, entry)
    this.#totals.set(drop.reason, (this.#totals.get(drop.reason) ?? 0) + 1)
    this.#listener?.(drop)
  }

  /** Counts per reason for one host (a copy). */
  forHost(hostId: number): Map<DropReason, DropRecord> {
    return new Map([...(this.#byHost.get(hostId) ?? [])].map(([k, v]) => [k, { ...v }]))
  }

  totals(): Map<DropReason, number> {
    return new Map(this.#totals)
  }

  total(): number {
    let n = 0
    for (const v of this.#totals.values()) n += v
    return n
  }
}
