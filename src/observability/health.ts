// The health of the parts the relay cannot work without (the database, the event log), for
// `GET /xrpc/_health` and for the logs. Each check answers null when its part works, or a short
// reason an operator can act on ("write failing (ENOSPC)"): never a stack or a connection string,
// since the health route is public. A check that throws is failing as "not responding"; its
// error goes to `onChange`, for the log only.
// Every change of a check's state is reported once through `onChange`, so the log says when a
// part starts failing and when it recovers; `start` runs the checks on a timer so that recovery
// is logged even when nobody polls the route.
// Deliberately not here: what each check looks at (the composition root passes them in).

/** A check: null when healthy, else a short public reason. */
export type HealthCheck = () => Promise<string | null>

export interface HealthReport {
  readonly ok: boolean
  readonly checks: Readonly<Record<string, 'ok' | 'failing'>>
  /** The failing checks and their reasons, e.g. `database: unreachable`; absent when ok. */
  readonly message?: string
}

export interface HealthChange {
  readonly check: string
  readonly failing: boolean
  readonly reason: string | null
  /** What a throwing check threw (for the log, never for the route). */
  readonly error?: unknown
}

export interface HealthMonitorOptions {
  readonly checks: Readonly<Record<string, HealthCheck>>
  readonly onChange: (change: HealthChange) => void
}

export class HealthMonitor {
  readonly #o: HealthMonitorOptions
  readonly #failing = new Map<string, string>()
  #timer: NodeJS.Timeout | undefined

  constructor(o: HealthMonitorOptions) {
    this.#o = o
  }

  async check(): Promise<HealthReport> {
    const names = Object.keys(this.#o.checks)
    const results = await Promise.all(names.map((name) => this.#run(name)))
    const checks: Record<string, 'ok' | 'failing'> = {}
    const reasons: string[] = []
    names.forEach((name, i) => {
      const reason = results[i]!
      checks[name] = reason === null ? 'ok' : 'failing'
      if (reason !== null) reasons.push(`${name}: ${reason}`)
    })
    return reasons.length === 0
      ? { ok: true, checks }
      : { ok: false, checks, message: reasons.join('; ') }
  }

  /** Runs the checks every `intervalMs` (changes reach `onChange`). */
  start(intervalMs: number): void {
    this.stop()
    this.#timer = setInterval(() => void this.check(), intervalMs)
    this.#timer.unref()
  }

  stop(): void {
    clearInterval(this.#timer)
    this.#timer = undefined
  }

  async #run(name: string): Promise<string | null> {
    let reason: string | null
    let error: unknown
    try {
      reason = await this.#o.checks[name]!()
    } catch (err) {
      reason = 'not responding'
      error = err
    }
    const before = this.#failing.get(name) ?? null
    if (reason === null) this.#failing.delete(name)
    else this.#failing.set(name, reason)
    if ((before === null) !== (reason === null)) {
      this.#o.onChange({ check: name, failing: reason !== null, reason, error })
    }
    return reason
  }
}
