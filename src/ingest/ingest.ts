// The per-event pipeline (docs/design.md §2 "ingest", §4 items 6–11b): the one place where identity,
// accounts, hosts, verification and the event log meet. Every upstream event ends as exactly one
// outcome: appended to the event log (accepted) or dropped with a reason (counted), and the host
// connection is told when it is complete (for drops at once; for accepted events when the log has
// written them, through the log's flush listener, wired by the composition root).
// Order: events of one account run strictly in order, different accounts concurrently. Bound: a
// host with more than `maxInFlightPerHost` events in flight is paused (its socket stops being
// read) until it drains to half of that; nothing is dropped for being busy.
// Deliberately not here: sockets, SQL, HTTP; which hosts exist (the host registry); admin policy.
import type { Tracer } from '@opentelemetry/api'
import type { AccountCache } from '../accounts/account-cache.ts'
import type { AccountState } from '../accounts/account-state.ts'
import type { AppendInput, LogRecord } from '../eventlog/types.ts'
import type { SyncMode, SyncRatchetState } from '../hosts/sync-ratchet.ts'
import type { Identity } from '../identity/did-document.ts'
import type { DropReason } from '../protocol/drop-reasons.ts'
import type { RepoEvent } from '../protocol/messages.ts'
import { AccountSerializer } from './account-serializer.ts'
import type { DropCounter } from './drop-counter.ts'
import { EventHandlers, type HandlerDeps } from './handlers.ts'
import type { VerifyOutcome, VerifyTask } from './verify-task.ts'

/** What ingest needs to know about the host an event came from. */
export interface IngestHost {
  readonly id: number
  readonly hostname: string
  readonly banned: boolean
  readonly sync: SyncRatchetState
}

export interface IngestDeps {
  readonly identity: {
    resolve(did: string): Promise<{ identity: Identity; stale: boolean }>
    peek(did: string): Identity | undefined
    purge(did: string): void
  }
  readonly accounts: AccountCache
  readonly hosts: {
    get(hostId: number): IngestHost | undefined
    setSyncState(hostId: number, state: SyncRatchetState): void
    /** Account slots of a host (new accounts beyond the limit are throttled). */
    accountSlots(hostId: number): { count: number; limit: number } | undefined
    adjustAccountCount(hostId: number, delta: number): void
    /** The host's connection: told when an event is complete, paused and resumed. */
    connection(
      hostId: number,
    ): { complete(seq: number): void; pause(): void; resume(): void } | undefined
  }
  readonly log: { append(input: AppendInput): LogRecord }
  readonly verify: (task: VerifyTask) => Promise<VerifyOutcome>
  readonly drops: DropCounter
  readonly now: () => number
  readonly syncDefault: SyncMode
  readonly syncRatchetCommits: number
  /** Asks an account's PDS for its status (DESIGN §4 item 11b); null when it cannot tell. */
  readonly checkRepoStatus?: (
    pds: string,
    did: string,
  ) => Promise<{ active: boolean; status?: string } | null>
  readonly onError?: (err: unknown, context: { hostId: number; seq: number; did: string }) => void
  readonly maxInFlightPerHost?: number
  /** Tracing: one span per upstream event (a no-op tracer when tracing is off). */
  readonly tracer?: Tracer
  readonly identityRetry?: { attempts: number; delayMs: number }
}

export interface IngestStats {
  received: number
  accepted: number
  dropped: number
  errors: number
  inFlight: number
}

export class Ingest {
  readonly #deps: IngestDeps
  readonly #serializer = new AccountSerializer()
  readonly #inFlight = new Map<number, number>()
  readonly #paused = new Set<number>()
  readonly #maxInFlight: number
  readonly #handlers: EventHandlers
  readonly stats: IngestStats = { received: 0, accepted: 0, dropped: 0, errors: 0, inFlight: 0 }

  constructor(deps: IngestDeps) {
    this.#deps = deps
    this.#maxInFlight = deps.maxInFlightPerHost ?? 1000
    const handlerDeps: HandlerDeps = {
      ...deps,
      identityRetry: deps.identityRetry ?? { attempts: 3, delayMs: 1000 },
      accept: (input) => this.#accept(input),
    }
    this.#handlers = new EventHandlers(handlerDeps)
  }

  /** Takes one event from a host connection (after its seq check). `raw` is the frame's bytes. */
  handle(hostId: number, msg: RepoEvent, raw: Uint8Array): void {
    this.stats.received++
    this.stats.inFlight++
    const n = (this.#inFlight.get(hostId) ?? 0) + 1
    this.#inFlight.set(hostId, n)
    if (n >= this.#maxInFlight && !this.#paused.has(hostId)) {
      this.#paused.add(hostId)
      this.#deps.hosts.connection(hostId)?.pause()
    }
    const did = msg.type === '#commit' ? msg.repo : msg.did
    void this.#serializer.run(did, async () => {
      const span = this.#deps.tracer?.startSpan('ingest.event', {
        attributes: { 'event.type': msg.type, 'host.id': hostId, 'event.seq': msg.seq },
      })
      let dropped: { reason: DropReason; detail: string } | null = null
      let failed = false
      try {
        dropped = await this.#handlers.process(hostId, msg, raw)
      } catch (err) {
        this.stats.errors++
        this.#deps.onError?.(err, { hostId, seq: msg.seq, did })
        failed = true
        this.#deps.hosts.connection(hostId)?.complete(msg.seq)
      }
      if (dropped) {
        this.stats.dropped++
        this.#deps.drops.record({
          hostId,
          reason: dropped.reason,
          did,
          seq: msg.seq,
          detail: dropped.detail,
        })
        this.#deps.hosts.connection(hostId)?.complete(msg.seq)
      }
      span?.setAttribute('event.outcome', failed ? 'error' : dropped ? dropped.reason : 'accepted')
      span?.end()
      this.#done(hostId)
    })
  }

  /** Changes an account's local status in order with its events (see EventHandlers). */
  setLocalStatus(
    did: string,
    status: AccountState['localStatus'],
  ): Promise<AccountState | undefined> {
    let result: AccountState | undefined
    let failure: { error: unknown } | undefined
    return this.#serializer
      .run(did, async () => {
        try {
          result = await this.#handlers.setLocalStatus(did, status)
        } catch (error) {
          failure = { error }
        }
      })
      .then(() => {
        if (failure) throw failure.error
        return result
      })
  }

  /** Resolves when every event handed in so far is accepted or dropped. */
  idle(): Promise<void> {
    return this.#serializer.idle()
  }

  #accept(input: AppendInput): LogRecord {
    this.stats.accepted++
    return this.#deps.log.append(input)
  }

  #done(hostId: number): void {
    this.stats.inFlight--
    const n = (this.#inFlight.get(hostId) ?? 1) - 1
    if (n <= 0) this.#inFlight.delete(hostId)
    else this.#inFlight.set(hostId, n)
    if (this.#paused.has(hostId) && n <= this.#maxInFlight / 2) {
      this.#paused.delete(hostId)
      this.#deps.hosts.connection(hostId)?.resume()
    }
  }
}
