// One host's flow control: whether its socket is read, decided in one place for every reason a
// host is held back. A paused host's socket is not read, so TCP pushes back on the PDS; nothing
// is dropped for being busy.
// - `in-flight`: events handed to ingest and not settled yet (accepted or dropped) reached
//   `--host-concurrency`; reading resumes when half of them have settled.
// - `cursor-window`: events delivered but not yet complete, plus the completed ones behind the
//   oldest incomplete event (what the cursor must wait for), reached CURSOR_WINDOW_PER_SLOT ×
//   `--host-concurrency`; resumes at half. It bounds the memory one slow account can hold.
// - `rate-limit`: the host is over its event limits (hosts/rate-limit.ts); resumes when the wait
//   the limiter gave has passed.
// Deliberately not here: the socket (the caller applies `paused` to it), the limits themselves.

export const PAUSE_REASONS = ['in-flight', 'cursor-window', 'rate-limit'] as const
export type PauseReason = (typeof PAUSE_REASONS)[number]

/** The cursor window's bound, per event of `--host-concurrency` (20,000 at the default 40). */
export const CURSOR_WINDOW_PER_SLOT = 500

export class FlowControl {
  readonly #maxInFlight: number
  readonly #maxWindow: number
  readonly #onChange: (paused: boolean) => void
  readonly #reasons = new Set<PauseReason>()
  #inFlight = 0
  #rateTimer: NodeJS.Timeout | undefined

  /** `onChange` is told each time the host goes from flowing to paused or back. */
  constructor(hostConcurrency: number, onChange: (paused: boolean) => void) {
    this.#maxInFlight = Math.max(1, hostConcurrency)
    this.#maxWindow = this.#maxInFlight * CURSOR_WINDOW_PER_SLOT
    this.#onChange = onChange
  }

  get paused(): boolean {
    return this.#reasons.size > 0
  }

  get reasons(): ReadonlySet<PauseReason> {
    return this.#reasons
  }

  /** Events handed to ingest and not settled yet. */
  get inFlight(): number {
    return this.#inFlight
  }

  /** An event was handed to ingest; `window` is the connection's cursor window now. */
  delivered(window: number): void {
    this.#inFlight++
    if (this.#inFlight >= this.#maxInFlight) this.#set('in-flight', true)
    this.#checkWindow(window)
  }

  /** Ingest settled one of the host's events (accepted or dropped). */
  settled(): void {
    if (this.#inFlight > 0) this.#inFlight--
    if (this.#inFlight <= this.#maxInFlight >> 1) this.#set('in-flight', false)
  }

  /** The connection's cursor window changed (an event arrived, was dropped or completed). */
  window(window: number): void {
    this.#checkWindow(window)
  }

  /** Holds the host back for `ms` (its rate limits); a hold already running is kept. */
  holdForRate(ms: number): boolean {
    if (this.#rateTimer !== undefined) return false
    this.#set('rate-limit', true)
    this.#rateTimer = setTimeout(() => {
      this.#rateTimer = undefined
      this.#set('rate-limit', false)
    }, ms)
    return true
  }

  /**
   * The connection went away: a rate hold ends with it, and so does a full cursor window (the
   * next connection's window starts empty). Events still in flight keep counting until they
   * settle.
   */
  connectionEnded(): void {
    clearTimeout(this.#rateTimer)
    this.#rateTimer = undefined
    this.#set('rate-limit', false)
    this.#set('cursor-window', false)
  }

  /** Stops the timer (the relay is stopping). */
  close(): void {
    clearTimeout(this.#rateTimer)
    this.#rateTimer = undefined
  }

  #checkWindow(window: number): void {
    if (window >= this.#maxWindow) this.#set('cursor-window', true)
    else if (window <= this.#maxWindow >> 1) this.#set('cursor-window', false)
  }

  #set(reason: PauseReason, on: boolean): void {
    const was = this.paused
    if (on) this.#reasons.add(reason)
    else this.#reasons.delete(reason)
    if (this.paused !== was) this.#onChange(this.paused)
  }
}
