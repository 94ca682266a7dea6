// Upstream handlers for tests that record every callback in order and let a test wait (with a
// bounded timeout) until what was recorded satisfies a condition.
// Deliberately not here: completing events (tests call `complete` themselves, in any order).
import type { DropReason } from '../../protocol/drop-reasons.ts'
import type { UpstreamEvent } from '../../protocol/envelope.ts'
import type { InfoMessage } from '../../protocol/messages.ts'
import type { ConnectionState, HostTarget, UpstreamHandlers } from '../types.ts'

export type Recorded =
  | { readonly kind: 'event'; readonly msg: UpstreamEvent; readonly raw: Uint8Array }
  | { readonly kind: 'info'; readonly msg: InfoMessage }
  | {
      readonly kind: 'drop'
      readonly reason: DropReason
      readonly seq: number | undefined
      readonly detail: string
    }
  | { readonly kind: 'error'; readonly error: string; readonly message: string | undefined }
  | { readonly kind: 'state'; readonly state: ConnectionState; readonly detail: string }

export class Recorder implements UpstreamHandlers {
  readonly log: Recorded[] = []
  /** Runs inside onEvent (e.g. to pause or complete synchronously). */
  onEventHook: ((msg: UpstreamEvent) => void) | null = null
  /** Runs inside onStateChange. */
  onStateHook: ((state: ConnectionState) => void) | null = null
  readonly #watchers = new Set<() => void>()

  get events(): UpstreamEvent[] {
    return this.log.flatMap((r) => (r.kind === 'event' ? [r.msg] : []))
  }
  get seqs(): number[] {
    return this.events.map((e) => e.seq)
  }
  get drops(): { reason: DropReason; seq: number | undefined }[] {
    return this.log.flatMap((r) => (r.kind === 'drop' ? [{ reason: r.reason, seq: r.seq }] : []))
  }
  get states(): ConnectionState[] {
    return this.log.flatMap((r) => (r.kind === 'state' ? [r.state] : []))
  }

  onEvent(_host: HostTarget, msg: UpstreamEvent, raw: Uint8Array): void {
    this.#push({ kind: 'event', msg, raw })
    this.onEventHook?.(msg)
  }
  onInfo(_host: HostTarget, msg: InfoMessage): void {
    this.#push({ kind: 'info', msg })
  }
  onDrop(_host: HostTarget, reason: DropReason, seq: number | undefined, detail: string): void {
    this.#push({ kind: 'drop', reason, seq, detail })
  }
  onUpstreamError(_host: HostTarget, error: string, message: string | undefined): void {
    this.#push({ kind: 'error', error, message })
  }
  onStateChange(_host: HostTarget, state: ConnectionState, detail: string): void {
    this.#push({ kind: 'state', state, detail })
    this.onStateHook?.(state)
  }

  /** Resolves once `cond()` holds (checked now and after every callback). */
  until(cond: () => boolean, what = 'condition', timeoutMs = 5_000): Promise<void> {
    if (cond()) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (!cond()) return
        clearTimeout(timer)
        this.#watchers.delete(check)
        resolve()
      }
      const timer = setTimeout(() => {
        this.#watchers.delete(check)
        reject(new Error(`timed out waiting for ${what}; log: ${this.describe()}`))
      }, timeoutMs)
      this.#watchers.add(check)
    })
  }

  describe(): string {
    return this.log.map((r) => describeOne(r)).join(', ')
  }

  #push(r: Recorded): void {
    this.log.push(r)
    for (const w of [...this.#watchers]) w()
  }
}

function describeOne(r: Recorded): string {
  if (r.kind === 'event') return `event ${r.msg.seq}`
  if (r.kind === 'drop') return `drop ${r.reason} ${r.seq}`
  if (r.kind === 'state') return `state ${r.state} (${r.detail})`
  if (r.kind === 'error') return `error ${r.error}`
  return `info ${r.msg.name}`
}
