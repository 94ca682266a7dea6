// Per-host upstream event rate limits (docs/design.md §4 items 13 and 15): a per-second, per-hour and
// per-day limit for every subscribed host, with defaults that scale with the host's account limit
// (more generous for hosts under a trusted domain), changeable at run time with immediate effect.
//
// Model: each limit is a token bucket holding at most `limit` events that refills at
// `limit / window` (so 50/s refills one event every 20 ms, 21,000/day one every ~4.1 s). `take()`
// records one event; an event that finds a bucket empty is still recorded (nothing is dropped:
// the caller processes it and pauses the host's socket for the returned time), so the bucket goes
// into debt and the host pays for it before flowing again. A host's burst is bounded by all three
// buckets at once, so the hour and day budgets can never be spent faster than the per-second
// limit allows, and past its budget a host is slowed to the window's average rate rather than cut
// off until the window ends. Debt is bounded at one window's budget, so one limit never holds a
// host back much longer than one window length, whatever the caller failed to pause for.
//
// Observed rates (`rates()`, for `/admin/pds/list` and the dashboard) are counted separately with
// a two-slot sliding window per limit (current and previous fixed window, the previous one weighted
// by how much of it still overlaps): O(1) memory, exact for evenly spread traffic, approximate by
// at most the previous slot's skew otherwise. They are for display, never for the decision.
//
// Deliberately not here: sockets and timers (the caller pauses and resumes), persistence of the
// limits (db/ via the composition root), the host status machine (the caller reads
// `throttledFor()` and marks the host `throttled`/`active`), and any wall-clock assumptions: the
// clock is injected and defaults to the monotonic `performance.now()`. Nothing to start or stop.

export interface HostLimits {
  readonly perSecond: number
  readonly perHour: number
  readonly perDay: number
}

/** Observed events in the last second, hour and day (rounded sliding-window estimates). */
export interface HostRates {
  readonly perSecond: number
  readonly perHour: number
  readonly perDay: number
}

/** The window of each limit, in seconds (the `Window` of the host record's `Per*EventRate`). */
export const limitWindowSeconds: HostLimits = { perSecond: 1, perHour: 3_600, perDay: 86_400 }

// Defaults, after the reference relay (bluesky-social/indigo cmd/relay, its slurper's limiter
// counts): a public host gets a baseline plus a share per account it may host, so a PDS allowed
// more accounts may send more. A host with the default account limit of 100 gets 50/s, 2,600/h and
// 21,000/day, the numbers in docs/admin-api.md's host record. A trusted host (e.g. `*.host.bsky.network`)
// gets the reference's fixed trusted limits; unlike the reference, it never gets less than an
// untrusted host with the same account limit would (scaled limits win when they are larger).
const BASELINE: HostLimits = { perSecond: 50, perHour: 2_500, perDay: 20_000 }
/** Extra events allowed per account of the host's account limit. */
const PER_ACCOUNT: HostLimits = { perSecond: 1 / 1_000, perHour: 1, perDay: 10 }
const TRUSTED: HostLimits = { perSecond: 5_000, perHour: 50_000_000, perDay: 500_000_000 }

/**
 * Default limits for a host allowed `accountLimit` accounts:
 * per second `50 + ⌊accountLimit / 1000⌋`, per hour `2500 + accountLimit`, per day
 * `20000 + 10 × accountLimit`; trusted hosts at least 5,000/s, 50M/h and 500M/day.
 * Results are capped at `Number.MAX_SAFE_INTEGER`. Throws RangeError for a negative or NaN limit.
 */
export function defaultLimits(accountLimit: number, trusted: boolean): HostLimits {
  if (Number.isNaN(accountLimit) || accountLimit < 0) {
    throw new RangeError(`account limit must be a non-negative number, got ${accountLimit}`)
  }
  const scaled = (k: keyof HostLimits): number =>
    Math.min(Number.MAX_SAFE_INTEGER, BASELINE[k] + Math.floor(accountLimit * PER_ACCOUNT[k]))
  const pick = (k: keyof HostLimits): number =>
    trusted ? Math.max(TRUSTED[k], scaled(k)) : scaled(k)
  return { perSecond: pick('perSecond'), perHour: pick('perHour'), perDay: pick('perDay') }
}

/** A limit that is not a positive safe integer (the admin API answers 400 with the message). */
export class InvalidHostLimitsError extends Error {
  override readonly name = 'InvalidHostLimitsError'
  readonly field: keyof HostLimits
  readonly value: unknown

  constructor(field: keyof HostLimits, value: unknown) {
    super(`${field} must be a positive integer, got ${String(value)}`)
    this.field = field
    this.value = value
  }
}

/** Throws InvalidHostLimitsError unless every limit is a positive safe integer. */
export function checkLimits(limits: HostLimits): HostLimits {
  for (const field of ['perSecond', 'perHour', 'perDay'] as const) {
    const v: unknown = limits[field]
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) {
      throw new InvalidHostLimitsError(field, v)
    }
  }
  return limits
}

export interface HostRateLimiterOptions {
  /** Milliseconds, monotonic. Default `performance.now()`. */
  readonly now?: () => number
  /**
   * How long after its last pause ends a host must go without exceeding a limit before it counts
   * as flowing again (`throttledFor()` drops to 0). Bridges the short gaps between the pauses of
   * a host that is continuously over its limit. Default 1,000 ms.
   */
  readonly flowGraceMs?: number
}

// Tolerance for floating-point refill arithmetic, as time: a bucket counts as holding what it
// will hold a nanosecond from now, and a returned wait is rounded up only past half a nanosecond
// over a whole millisecond, so a host that waited exactly the returned time is never judged a
// hair short of a token (the slack in tokens is far above the rounding error of any budget).
const SLACK_MS = 1e-6

/** One limit of one host: a token bucket for the decision plus a two-slot counter for display. */
class Window {
  readonly ms: number
  capacity = 0
  perMs = 0
  /** Tokens refilled in SLACK_MS. */
  slack = 0
  tokens = 0
  last: number
  /** Start of the current fixed counting slot, a multiple of `ms`. */
  start: number
  count = 0
  prevCount = 0

  constructor(ms: number, limit: number, now: number) {
    this.ms = ms
    this.last = now
    this.start = Math.floor(now / ms) * ms
    this.setLimit(limit) // from capacity 0: a full bucket
  }

  setLimit(limit: number): void {
    const raised = Math.max(0, limit - this.capacity)
    this.capacity = limit
    this.perMs = limit / this.ms
    this.slack = this.perMs * SLACK_MS
    // Raising frees the extra budget at once; lowering caps what is left at the new budget.
    this.tokens = Math.min(this.tokens + raised, limit)
  }

  refill(now: number): void {
    if (now > this.last) {
      const t = this.tokens + (now - this.last) * this.perMs
      this.tokens = Math.min(t, this.capacity)
      this.last = now
    }
  }

  roll(now: number): void {
    if (now >= this.start + this.ms) {
      const start = Math.floor(now / this.ms) * this.ms
      this.prevCount = start - this.start === this.ms ? this.count : 0
      this.count = 0
      this.start = start
    }
  }

  /** Milliseconds until one more event fits (0 if it fits now). Call after `refill`. */
  wait(): number {
    return this.tokens + this.slack >= 1 ? 0 : (1 - this.tokens) / this.perMs
  }

  observed(now: number): number {
    this.roll(now)
    const into = Math.min(this.ms, Math.max(0, now - this.start))
    return Math.round(this.prevCount * ((this.ms - into) / this.ms) + this.count)
  }
}

class HostState {
  limits: HostLimits
  readonly second: Window
  readonly hour: Window
  readonly day: Window
  /** When the current held-back episode began; NaN when the host is flowing. */
  heldSince = Number.NaN
  /** When the last pause handed out in this episode ends. */
  heldUntil = Number.NaN

  constructor(limits: HostLimits, now: number) {
    this.limits = limits
    this.second = new Window(limitWindowSeconds.perSecond * 1000, limits.perSecond, now)
    this.hour = new Window(limitWindowSeconds.perHour * 1000, limits.perHour, now)
    this.day = new Window(limitWindowSeconds.perDay * 1000, limits.perDay, now)
  }

  refill(now: number): void {
    this.second.refill(now)
    this.hour.refill(now)
    this.day.refill(now)
  }

  wait(): number {
    const w = Math.max(this.second.wait(), this.hour.wait(), this.day.wait())
    return w > 0 ? Math.max(1, Math.ceil(w - SLACK_MS / 2)) : 0
  }
}

export class HostRateLimiter {
  readonly #hosts = new Map<number, HostState>()
  readonly #now: () => number
  readonly #grace: number

  constructor(opts: HostRateLimiterOptions = {}) {
    this.#now = opts.now ?? (() => performance.now())
    this.#grace = opts.flowGraceMs ?? 1_000
    if (!(this.#grace >= 0)) throw new RangeError('flowGraceMs must be a non-negative number')
  }

  /** Number of hosts with limits. */
  get size(): number {
    return this.#hosts.size
  }

  /**
   * Sets (or changes) a host's limits, effective at once. A new host starts with full budgets;
   * for a known host the observed counts and what it already used are kept: a raised limit frees
   * the extra budget immediately, a lowered one caps what is left at the new limit. Throws
   * InvalidHostLimitsError for a limit that is not a positive safe integer.
   */
  set(hostId: number, limits: HostLimits): void {
    const checked = checkLimits({
      perSecond: limits.perSecond,
      perHour: limits.perHour,
      perDay: limits.perDay,
    })
    const now = this.#now()
    const s = this.#hosts.get(hostId)
    if (s === undefined) {
      this.#hosts.set(hostId, new HostState(checked, now))
      return
    }
    s.refill(now)
    s.limits = checked
    s.second.setLimit(checked.perSecond)
    s.hour.setLimit(checked.perHour)
    s.day.setLimit(checked.perDay)
    if (!Number.isNaN(s.heldSince)) {
      const wait = s.wait()
      if (wait === 0) {
        s.heldSince = Number.NaN
        s.heldUntil = Number.NaN
      } else {
        s.heldUntil = now + wait
      }
    }
  }

  /** Forgets a host (unsubscribed, blocked). Later `take()`s for it are not limited. */
  remove(hostId: number): void {
    this.#hosts.delete(hostId)
  }

  /** The host's current limits, or undefined if it has none. */
  limits(hostId: number): HostLimits | undefined {
    return this.#hosts.get(hostId)?.limits
  }

  /**
   * Records one event from the host. Returns 0 if it was within all three limits, else the
   * milliseconds (≥ 1) until the host's next event would be: the caller still processes this
   * event and pauses the host's socket for that long. A host without limits (never set, or
   * removed while its last events were in flight) is not limited and nothing is recorded.
   */
  take(hostId: number): number {
    const s = this.#hosts.get(hostId)
    if (s === undefined) return 0
    const now = this.#now()
    const { second, hour, day } = s
    second.refill(now)
    hour.refill(now)
    day.refill(now)
    second.roll(now)
    hour.roll(now)
    day.roll(now)
    second.count++
    hour.count++
    day.count++
    // Spend one token from each bucket; debt is bounded at one window's budget.
    second.tokens = Math.max(second.tokens - 1, -second.capacity)
    hour.tokens = Math.max(hour.tokens - 1, -hour.capacity)
    day.tokens = Math.max(day.tokens - 1, -day.capacity)
    if (
      second.tokens + second.slack >= 0 &&
      hour.tokens + hour.slack >= 0 &&
      day.tokens + day.slack >= 0
    ) {
      if (now > s.heldUntil + this.#grace) {
        s.heldSince = Number.NaN
        s.heldUntil = Number.NaN
      }
      return 0
    }
    const wait = s.wait()
    if (Number.isNaN(s.heldSince) || now > s.heldUntil + this.#grace) {
      s.heldSince = now
      s.heldUntil = now + wait
    } else if (now + wait > s.heldUntil) {
      s.heldUntil = now + wait
    }
    return wait
  }

  /** Milliseconds until the host's next event would be within its limits, without recording one. */
  wait(hostId: number): number {
    const s = this.#hosts.get(hostId)
    if (s === undefined) return 0
    s.refill(this.#now())
    return s.wait()
  }

  /** Events observed from the host in the last second, hour and day (zeros for an unknown host). */
  rates(hostId: number): HostRates {
    const s = this.#hosts.get(hostId)
    if (s === undefined) return { perSecond: 0, perHour: 0, perDay: 0 }
    const now = this.#now()
    return {
      perSecond: s.second.observed(now),
      perHour: s.hour.observed(now),
      perDay: s.day.observed(now),
    }
  }

  /**
   * How long, in milliseconds, the host has been held back without a break: from the first event
   * that exceeded a limit until the host has gone `flowGraceMs` past the end of its last pause
   * without exceeding again (then 0). The caller marks the host `throttled` past a threshold.
   */
  throttledFor(hostId: number): number {
    const s = this.#hosts.get(hostId)
    if (s === undefined || Number.isNaN(s.heldSince)) return 0
    const now = this.#now()
    if (now > s.heldUntil + this.#grace) {
      s.heldSince = Number.NaN
      s.heldUntil = Number.NaN
      return 0
    }
    return Math.max(0, now - s.heldSince)
  }
}
