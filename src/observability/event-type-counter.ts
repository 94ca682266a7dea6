// Counts upstream events per host and event type (`#commit`, `#sync`, `#identity`, `#account`):
// the one count the metrics need that the relay does not keep elsewhere. `add` is O(1) and
// allocates nothing after a host's first event (one Float64Array of four per host).
// Memory is bounded by the number of host ids seen (operators control the host list); a host's
// counts stay after it is removed so that totals never go down.
// Deliberately not here: labels, hostnames, Prometheus (metrics.ts reads this at scrape time),
// and drops (the drop counter counts those, per reason).

/** The event types a host can send, in the order of the counts arrays. */
export const EVENT_TYPES = ['#commit', '#sync', '#identity', '#account'] as const

export type EventType = (typeof EVENT_TYPES)[number]

/** The index of `type` in EVENT_TYPES; -1 for any other type. */
export function typeIndex(type: string): number {
  switch (type) {
    case '#commit':
      return 0
    case '#sync':
      return 1
    case '#identity':
      return 2
    case '#account':
      return 3
    default:
      return -1
  }
}

export class EventTypeCounter {
  readonly #byHost = new Map<number, Float64Array>()

  /** `n` events (one by default) of `type` from host `hostId`. Other types are ignored. */
  add(hostId: number, type: EventType | string, n = 1): void {
    const i = typeIndex(type)
    if (i < 0) return
    let counts = this.#byHost.get(hostId)
    if (counts === undefined) {
      counts = new Float64Array(EVENT_TYPES.length)
      this.#byHost.set(hostId, counts)
    }
    counts[i]! += n
  }

  /** Count of one host and type (0 when none). */
  get(hostId: number, type: EventType): number {
    return this.#byHost.get(hostId)?.[typeIndex(type)] ?? 0
  }

  /** Events of every type from one host. */
  hostTotal(hostId: number): number {
    const counts = this.#byHost.get(hostId)
    if (counts === undefined) return 0
    let n = 0
    for (const c of counts) n += c
    return n
  }

  /** Events per type over every host ever seen, in `EVENT_TYPES` order. */
  totals(): number[] {
    const out = EVENT_TYPES.map(() => 0)
    for (const counts of this.#byHost.values())
      for (let i = 0; i < out.length; i++) out[i]! += counts[i]!
    return out
  }
}
