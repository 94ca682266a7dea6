// Counts every upstream event the relay does not pass on, per host and reason (docs/design.md §4
// item 12), with the last occurrence of each and counts over the last hour and day (for
// operators and, without DIDs, for the public: "why is my PDS not flowing?"), and hands each drop
// to a listener (the logger). Memory is bounded by hosts × reasons × (60 + 24) buckets.
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

export interface RecentDrop {
  readonly reason: DropReason
  readonly count1h: number
  readonly count24h: number
  readonly total: number
  readonly lastAt: number
  readonly lastDid: string | null
  readonly lastDetail: string
}

const MINUTE = 60_000
const HOUR = 3_600_000

/** Counts in fixed time buckets: 60 one-minute and 24 one-hour buckets, indexed by epoch. */
class Windows {
  readonly #minutes = new Float64Array(60)
  readonly #minuteEpoch = new Float64Array(60).fill(-1)
  readonly #hours = new Float64Array(24)
  readonly #hourEpoch = new Float64Array(24).fill(-1)

  add(now: number): void {
    const m = Math.floor(now / MINUTE)
    const mi = m % 60
    if (this.#minuteEpoch[mi] !== m) {
      this.#minuteEpoch[mi] = m
      this.#minutes[mi] = 0
    }
    this.#minutes[mi]!++
    const h = Math.floor(now / HOUR)
    const hi = h % 24
    if (this.#hourEpoch[hi] !== h) {
      this.#hourEpoch[hi] = h
      this.#hours[hi] = 0
    }
    this.#hours[hi]!++
  }

  lastHour(now: number): number {
    const m = Math.floor(now / MINUTE)
    let n = 0
    for (let i = 0; i < 60; i++) if (this.#minuteEpoch[i]! > m - 60) n += this.#minutes[i]!
    return n
  }

  lastDay(now: number): number {
    const h = Math.floor(now / HOUR)
    let n = 0
    for (let i = 0; i < 24; i++) if (this.#hourEpoch[i]! > h - 24) n += this.#hours[i]!
    return n
  }
}

/** Recent drops per account, for "why is this account not flowing?" (bounded LRU). */
const MAX_ACCOUNTS_TRACKED = 10_000
const DROPS_PER_ACCOUNT = 5

export interface AccountDrop {
  readonly reason: DropReason
  readonly at: number
  readonly hostId: number
  readonly detail: string
}

interface Entry extends DropRecord {
  windows: Windows
}

export class DropCounter {
  readonly #byHost = new Map<number, Map<DropReason, Entry>>()
  readonly #totals = new Map<DropReason, number>()
  readonly #byDid = new Map<string, AccountDrop[]>()
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
    let entry = host.get(drop.reason)
    if (!entry) {
      entry = { count: 0, lastAt: 0, lastDid: null, lastDetail: '', windows: new Windows() }
      host.set(drop.reason, entry)
    }
    const now = this.#now()
    entry.count++
    entry.lastAt = now
    entry.lastDid = drop.did
    entry.lastDetail = drop.detail.slice(0, 300)
    entry.windows.add(now)
    this.#totals.set(drop.reason, (this.#totals.get(drop.reason) ?? 0) + 1)
    if (drop.did) {
      const list = this.#byDid.get(drop.did) ?? []
      this.#byDid.delete(drop.did)
      list.unshift({ reason: drop.reason, at: now, hostId: drop.hostId, detail: entry.lastDetail })
      if (list.length > DROPS_PER_ACCOUNT) list.length = DROPS_PER_ACCOUNT
      this.#byDid.set(drop.did, list)
      if (this.#byDid.size > MAX_ACCOUNTS_TRACKED)
        this.#byDid.delete(this.#byDid.keys().next().value!)
    }
    this.#listener?.(drop)
  }

  /** Counts per reason for one host (a copy). */
  forHost(hostId: number): Map<DropReason, DropRecord> {
    const out = new Map<DropReason, DropRecord>()
    for (const [reason, e] of this.#byHost.get(hostId) ?? []) {
      out.set(reason, {
        count: e.count,
        lastAt: e.lastAt,
        lastDid: e.lastDid,
        lastDetail: e.lastDetail,
      })
    }
    return out
  }

  /** Each reason seen for a host, with its counts over the last hour and day, newest first. */
  recent(hostId: number): RecentDrop[] {
    const now = this.#now()
    const out: RecentDrop[] = []
    for (const [reason, e] of this.#byHost.get(hostId) ?? []) {
      out.push({
        reason,
        count1h: e.windows.lastHour(now),
        count24h: e.windows.lastDay(now),
        total: e.count,
        lastAt: e.lastAt,
        lastDid: e.lastDid,
        lastDetail: e.lastDetail,
      })
    }
    return out.sort((a, b) => b.lastAt - a.lastAt)
  }

  /** The account's most recent drops (newest first), if it had any lately. */
  forAccount(did: string): readonly AccountDrop[] {
    return this.#byDid.get(did) ?? []
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
