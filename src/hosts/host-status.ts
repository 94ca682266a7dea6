// The host status machine (docs/design.md §4 item 13): decides each upstream host's status,
// `active | idle | offline | throttled | banned`, from what the composition root reports (dials,
// events, FutureCursor answers, rate-limit holds, bans) and a `tick()` every few seconds, and
// calls `onTransition` once per change with a human-readable reason (to log, store as
// `host.status_reason`, show to operators). Rules:
// - `offline` after `offlineAfterFailures` failures in a row (the reason quotes the last error).
//   An offline host is never abandoned: it always has a next retry time, on a schedule growing
//   ×2 per failed retry up to `offlineRetry.maxMs` (hours), each delay uniform in [½, 1] of its
//   ceiling so retries stay spread out but the schedule keeps growing. A connection open
//   (`connected`) makes it `active` again at once. A connection that ends before it was open
//   `healthyAfterMs` counts as a failure even after `connected` (a host that accepts and drops
//   at once is unreachable in practice); the failure count and the retry schedule restart only
//   when the host proved healthy: an event, a FutureCursor answer, or `healthyAfterMs` connected.
// - `idle` when connected but without events for `idleAfterMs`, or when the host answered
//   FutureCursor; any event makes it `active` again (the connection keeps re-checking it).
// - `throttled` when held back by its rate limit continuously for `throttledAfterMs`; `rateOk`
//   (or, after a restart, no hold reported by the next tick) makes it `active` again.
// - `banned` wins over everything and only `unbanned` leaves it (→ `active`); while banned every
//   other report is ignored.
// Deliberately not here: timers, sockets and SQL (the caller stops a connection when its host
// goes offline and restarts it when `takeDueRetries()` says so, and stores the status), what to
// do about a FutureCursor (cursor resets stay with host-links.ts and hosts.ts), and the rate
// limiter itself. It holds no timers, so there is nothing to close. Per-host state is
// bounded by the hosts reported (hosts are never removed).
import type { HostStatus } from '../db/schema.ts'

export { HOST_STATUSES, type HostStatus } from '../db/schema.ts'

export type HostTransitionListener = (
  hostId: number,
  from: HostStatus,
  to: HostStatus,
  reason: string,
) => void

export interface HostStatusOptions {
  /** Milliseconds since the epoch. Default Date.now. */
  readonly now?: () => number
  /** Uniform in [0, 1): retry jitter. Default Math.random. */
  readonly random?: () => number
  /** Failures in a row before `offline`. Default 5. */
  readonly offlineAfterFailures?: number
  /** Connected without any event this long → `idle`. Default 1 h. */
  readonly idleAfterMs?: number
  /** Offline retry schedule: the first delay's ceiling and the cap. Default 5 min .. 6 h. */
  readonly offlineRetry?: { readonly initialMs: number; readonly maxMs: number }
  /** Held back by the rate limit continuously this long → `throttled`. Default 5 min. */
  readonly throttledAfterMs?: number
  /** A connection open this long proves the host healthy. Default 60 s (as the connection's). */
  readonly healthyAfterMs?: number
  /** Called once per status change, after the change took effect. Must not throw. */
  readonly onTransition: HostTransitionListener
}

/** What the machine knows of one host (for the admin API and dashboard). */
export interface HostStatusInfo {
  readonly status: HostStatus
  readonly reason: string | null
  readonly connected: boolean
  readonly consecutiveFailures: number
  readonly lastError: string | null
  /** When the last connection error happened (null: none since start). */
  readonly lastErrorAt: number | null
  /** Retries of an offline host that came due since it last proved healthy. */
  readonly retries: number
  readonly nextRetryAt: number | null
  readonly lastEventAt: number | null
  /** Since when its events are held back by the rate limit (null: they are not). */
  readonly rateLimitedSince: number | null
}

interface HostState {
  readonly id: number
  status: HostStatus
  reason: string | null
  connected: boolean
  connectedAt: number
  failures: number
  lastError: string | null
  lastErrorAt: number | null
  retries: number
  nextRetryAt: number | null
  lastEventAt: number | null
  /** Start of the current silence: the last event, or the last time the host became active. */
  quietSince: number
  rateLimitedSince: number | null
}

const MAX_ERROR_CHARS = 300

export class HostStatusMachine {
  readonly #now: () => number
  readonly #random: () => number
  readonly #offlineAfter: number
  readonly #idleAfterMs: number
  readonly #retryInitialMs: number
  readonly #retryMaxMs: number
  readonly #throttledAfterMs: number
  readonly #healthyAfterMs: number
  readonly #onTransition: HostTransitionListener
  readonly #hosts = new Map<number, HostState>()

  constructor(opts: HostStatusOptions) {
    this.#now = opts.now ?? Date.now
    this.#random = opts.random ?? Math.random
    this.#offlineAfter = opts.offlineAfterFailures ?? 5
    // Small PDSes with a handful of accounts are quiet for many minutes at a time; an hour
    // keeps them from flapping idle/active all day while a silent host still shows up soon.
    this.#idleAfterMs = opts.idleAfterMs ?? 3_600_000
    this.#retryInitialMs = opts.offlineRetry?.initialMs ?? 300_000
    this.#retryMaxMs = opts.offlineRetry?.maxMs ?? 6 * 3_600_000
    // Long enough that a PDS catching up after a restart is not flagged, short enough that a
    // sustained overload is visible to operators within minutes.
    this.#throttledAfterMs = opts.throttledAfterMs ?? 300_000
    this.#healthyAfterMs = opts.healthyAfterMs ?? 60_000
    this.#onTransition = opts.onTransition
    if (!Number.isInteger(this.#offlineAfter) || this.#offlineAfter < 1) {
      throw new RangeError('offlineAfterFailures must be an integer >= 1')
    }
    if (!(this.#retryInitialMs > 0) || !(this.#retryMaxMs >= this.#retryInitialMs)) {
      throw new RangeError('offlineRetry needs 0 < initialMs <= maxMs')
    }
    const durations = [this.#idleAfterMs, this.#throttledAfterMs, this.#healthyAfterMs]
    if (!durations.every((v) => v > 0 && Number.isFinite(v))) {
      throw new RangeError('idleAfterMs, throttledAfterMs and healthyAfterMs must be > 0')
    }
  }

  /** Sets a host's status as stored (at start); no transition is reported. */
  load(hostId: number, status: HostStatus, reason: string | null = null): void {
    const h = this.#fresh(hostId, status, reason)
    // Spread the first retries of hosts that were offline before the restart.
    if (status === 'offline')
      h.nextRetryAt = h.quietSince + Math.floor(this.#random() * this.#retryInitialMs)
    this.#hosts.set(hostId, h)
  }

  /** The host's socket opened. */
  connected(hostId: number): void {
    const h = this.#host(hostId)
    if (h.status === 'banned') return
    h.connected = true
    h.connectedAt = this.#now()
    if (h.status !== 'offline') return
    const after = h.failures > 0 ? ` after ${h.failures} connection failures` : ''
    this.#move(h, 'active', `connected again${after}`)
  }

  /**
   * A dial failed, or a connection ended (`error` says why). An end after `healthyAfterMs`
   * connected is not a failure.
   */
  connectFailed(hostId: number, error: string): void {
    const h = this.#host(hostId)
    if (h.status === 'banned') return
    const now = this.#now()
    const healthyEnd = h.connected && now - h.connectedAt >= this.#healthyAfterMs
    h.connected = false
    h.lastError = error.length > MAX_ERROR_CHARS ? `${error.slice(0, MAX_ERROR_CHARS)}…` : error
    h.lastErrorAt = now
    if (healthyEnd) {
      this.#healthy(h)
      return
    }
    h.failures++
    if (h.status === 'offline') {
      // The retry that came due failed (a failure before then is the old connection's).
      if (h.nextRetryAt === null || now >= h.nextRetryAt) this.#scheduleRetry(h, now)
      return
    }
    if (h.failures < this.#offlineAfter) return
    h.rateLimitedSince = null
    this.#scheduleRetry(h, now)
    this.#move(h, 'offline', `${h.failures} connection failures in a row; last: ${h.lastError}`)
  }

  /** An upstream event arrived (hot path: a map lookup and a few assignments). */
  event(hostId: number): void {
    const h = this.#host(hostId)
    if (h.status === 'banned') return
    const now = this.#now()
    h.lastEventAt = now
    h.quietSince = now
    if (!h.connected) {
      h.connected = true
      h.connectedAt = now
    }
    if (h.failures !== 0 || h.retries !== 0) this.#healthy(h)
    if (h.status === 'idle' || h.status === 'offline')
      this.#move(h, 'active', 'events arriving again')
  }

  /** The host answered FutureCursor (it may have reset its sequence); the connection then ends. */
  futureCursor(hostId: number): void {
    const h = this.#host(hostId)
    if (h.status === 'banned') return
    this.#healthy(h)
    h.connected = false
    this.#move(h, 'idle', 'the PDS answered FutureCursor (did it reset its sequence?)')
  }

  /** The host's events are being held back by its rate limit, continuously for `heldForMs`. */
  rateLimited(hostId: number, heldForMs: number): void {
    const h = this.#host(hostId)
    if (h.status === 'banned') return
    const since = this.#now() - Math.max(0, heldForMs)
    if (h.rateLimitedSince === null || since < h.rateLimitedSince) h.rateLimitedSince = since
    this.#checkThrottled(h, this.#now())
  }

  /** The host's events flow within its rate limit again. */
  rateOk(hostId: number): void {
    const h = this.#host(hostId)
    if (h.status === 'banned') return
    h.rateLimitedSince = null
    if (h.status === 'throttled') this.#move(h, 'active', 'events within the rate limit again')
  }

  /** An operator or a domain ban blocked the host. */
  banned(hostId: number, reason: string): void {
    const h = this.#host(hostId)
    h.connected = false
    this.#move(h, 'banned', reason)
  }

  /**
   * A banned host's ban changed (another reason now holds it): the new reason is reported as a
   * transition from `banned` to `banned`, so it is stored like any other. Ignored unless banned.
   */
  banReasonChanged(hostId: number, reason: string): void {
    const h = this.#hosts.get(hostId)
    if (h?.status !== 'banned' || h.reason === reason) return
    h.reason = reason
    this.#onTransition(h.id, 'banned', 'banned', reason)
  }

  /** The ban was lifted: the host starts afresh as `active`. */
  unbanned(hostId: number, reason = 'ban lifted'): void {
    const h = this.#hosts.get(hostId)
    if (h?.status !== 'banned') return
    const fresh = this.#fresh(hostId, 'banned', h.reason)
    this.#hosts.set(hostId, fresh)
    this.#move(fresh, 'active', reason)
  }

  /** Time-based rules (idle, throttled, healthy connections); call every few seconds. */
  tick(): void {
    const now = this.#now()
    for (const h of this.#hosts.values()) {
      if (h.status === 'banned') continue
      if (h.connected && now - h.connectedAt >= this.#healthyAfterMs) this.#healthy(h)
      if (h.status === 'throttled' && h.rateLimitedSince === null) {
        this.#move(h, 'active', 'no longer held back by its rate limit')
      } else if (this.#checkThrottled(h, now)) {
        continue
      }
      if (h.status === 'active' && h.connected && now - h.quietSince >= this.#idleAfterMs) {
        this.#move(h, 'idle', `connected but no events for ${formatDuration(now - h.quietSince)}`)
      }
    }
  }

  /**
   * Offline hosts whose retry came due; each one's retry time moves on to the next step at once,
   * so a retry whose outcome is never reported is still tried again later.
   */
  takeDueRetries(): number[] {
    const now = this.#now()
    const due: number[] = []
    for (const h of this.#hosts.values()) {
      if (h.status !== 'offline' || h.nextRetryAt === null || h.nextRetryAt > now) continue
      this.#scheduleRetry(h, now)
      due.push(h.id)
    }
    return due
  }

  status(hostId: number): HostStatus | undefined {
    return this.#hosts.get(hostId)?.status
  }

  /** Whether a rate hold is on the host's books (throttled, or held since some time). */
  rateHeld(hostId: number): boolean {
    const h = this.#hosts.get(hostId)
    return h !== undefined && (h.status === 'throttled' || h.rateLimitedSince !== null)
  }

  /** A host's status, reason, connection flag and (when offline) next retry time. */
  describe(hostId: number): HostStatusInfo | undefined {
    const h = this.#hosts.get(hostId)
    if (!h) return undefined
    return {
      status: h.status,
      reason: h.reason,
      connected: h.connected,
      consecutiveFailures: h.failures,
      lastError: h.lastError,
      lastErrorAt: h.lastErrorAt,
      retries: h.retries,
      nextRetryAt: h.status === 'offline' ? h.nextRetryAt : null,
      lastEventAt: h.lastEventAt,
      rateLimitedSince: h.rateLimitedSince,
    }
  }

  /** The ceiling of the retry delay after `retries` failed retries (before jitter). */
  retryCeilingMs(retries: number): number {
    return Math.min(this.#retryMaxMs, this.#retryInitialMs * 2 ** Math.min(retries, 64))
  }

  #host(hostId: number): HostState {
    let h = this.#hosts.get(hostId)
    if (h === undefined) {
      h = this.#fresh(hostId, 'active', null)
      this.#hosts.set(hostId, h)
    }
    return h
  }

  #fresh(id: number, status: HostStatus, reason: string | null): HostState {
    const now = this.#now()
    return {
      id,
      status,
      reason,
      connected: false,
      connectedAt: now,
      failures: 0,
      lastError: null,
      lastErrorAt: null,
      retries: 0,
      nextRetryAt: null,
      lastEventAt: null,
      quietSince: now,
      rateLimitedSince: null,
    }
  }

  #healthy(h: HostState): void {
    h.failures = 0
    h.retries = 0
  }

  #scheduleRetry(h: HostState, now: number): void {
    const ceiling = this.retryCeilingMs(h.retries)
    const half = ceiling / 2
    h.nextRetryAt = now + Math.floor(half + this.#random() * half)
    h.retries++
  }

  /** Moves an active or idle host to `throttled` when its hold lasted long enough. */
  #checkThrottled(h: HostState, now: number): boolean {
    if (h.status !== 'active' && h.status !== 'idle') return false
    if (h.rateLimitedSince === null) return false
    const held = now - h.rateLimitedSince
    if (held < this.#throttledAfterMs) return false
    this.#move(h, 'throttled', `held back by its event rate limit for ${formatDuration(held)}`)
    return true
  }

  #move(h: HostState, to: HostStatus, reason: string): void {
    const from = h.status
    if (from === to) return
    h.status = to
    h.reason = reason
    if (to !== 'offline') h.nextRetryAt = null
    if (to === 'active') h.quietSince = this.#now()
    this.#onTransition(h.id, from, to, reason)
  }
}

/** `1h 5m`, `4m 30s`, `12s`: for reasons shown to operators. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000))
  const h = Math.floor(s / 3600)
  const m = Math.floor((s % 3600) / 60)
  const sec = s % 60
  if (h > 0) return m > 0 ? `${h}h ${m}m` : `${h}h`
  if (m > 0) return sec > 0 ? `${m}m ${sec}s` : `${m}m`
  return `${sec}s`
}
