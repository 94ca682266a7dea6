// The per-event pipeline (docs/design.md §2 "ingest", §4 items 6–11b): the one place where identity,
// accounts, hosts, verification and the event log meet. Every upstream event ends as exactly one
// outcome: appended to the event log (accepted) or dropped with a reason (counted); either way
// the host is told the event is settled (its flow control counts it out; a drop is complete for
// its cursor at once, an accepted event when the log has written it).
// Order: events of one account run strictly in order, different accounts concurrently. How many
// events of a host are in flight is bounded by the host's flow control (hosts/flow-control.ts),
// which stops reading its socket; nothing is dropped for being busy.
// Also the account operations that must be ordered with the account's events: a takedown and its
// reversal, and releasing throttled accounts after a raised account limit. Each changes the
// account's local status and announces it with an `#account` of the relay's own.
// Deliberately not here: sockets, SQL, HTTP; which hosts exist (hosts/); admin routes.
import type { AccountState } from '../accounts/account-state.ts'
import type { DropReason } from '../protocol/drop-reasons.ts'
import type { RepoEvent } from '../protocol/messages.ts'
import { AccountSerializer } from './account-serializer.ts'
import { EventHandlers } from './handlers.ts'
import type { IngestDeps, IngestStats } from './types.ts'

export type { IngestDeps, IngestHosts, IngestStats } from './types.ts'

/** What reversing a takedown did. */
export type ReverseTakedownResult = 'reversed' | 'unknown-account' | 'not-taken-down'

/** At most this many throttled accounts are released per raised limit (one batch). */
const MAX_RELEASE = 10_000

export class Ingest {
  readonly #d: IngestDeps
  readonly #serializer = new AccountSerializer()
  readonly #handlers: EventHandlers
  readonly stats: IngestStats = { received: 0, accepted: 0, dropped: 0, errors: 0, inFlight: 0 }

  constructor(deps: IngestDeps) {
    this.#d = deps
    this.#handlers = new EventHandlers({
      ...deps,
      identityRetry: deps.identityRetry ?? { attempts: 3, delayMs: 1000 },
      accept: (input) => {
        this.stats.accepted++
        return deps.log.append(input)
      },
    })
  }

  /** Takes one event from a host connection (after its seq check). `raw` is the frame's bytes. */
  handle(hostId: number, msg: RepoEvent, raw: Uint8Array): void {
    this.stats.received++
    this.stats.inFlight++
    const did = msg.type === '#commit' ? msg.repo : msg.did
    void this.#serializer.run(did, async () => {
      const span = this.#d.tracer?.startSpan('ingest.event', {
        attributes: { 'event.type': msg.type, 'host.id': hostId, 'event.seq': msg.seq },
      })
      let dropped: { reason: DropReason; detail: string } | null = null
      let failed = false
      try {
        dropped = await this.#handlers.process(hostId, msg, raw)
      } catch (err) {
        this.stats.errors++
        this.#d.onError?.(err, { hostId, seq: msg.seq, did })
        failed = true
      }
      if (dropped) {
        this.stats.dropped++
        this.#d.drops.record({
          hostId,
          reason: dropped.reason,
          did,
          seq: msg.seq,
          detail: dropped.detail,
        })
      }
      // A failed event is complete too: the cursor must not wait for it forever.
      this.#d.hosts.settled(hostId, msg.seq, failed || dropped !== null)
      span?.setAttribute('event.outcome', failed ? 'error' : dropped ? dropped.reason : 'accepted')
      span?.end()
      this.stats.inFlight--
    })
  }

  /** Takes an account down: its events are no longer served; false for an unknown account. */
  async takeDown(did: string): Promise<boolean> {
    // Hidden first, so nothing of it is served while the change waits for its turn.
    this.#d.takedowns.add(did)
    const state = await this.#setLocalStatus(did, 'takendown')
    if (!state) this.#d.takedowns.delete(did)
    return state !== undefined
  }

  async reverseTakedown(did: string): Promise<ReverseTakedownResult> {
    const current = await this.#d.accounts.get(did)
    if (!current) return 'unknown-account'
    if (current.localStatus !== 'takendown') return 'not-taken-down'
    await this.#setLocalStatus(did, 'active')
    this.#d.takedowns.delete(did)
    return 'reversed'
  }

  /** After a host's account limit was raised: releases up to `slots` throttled accounts, oldest first. */
  async releaseThrottled(hostId: number, slots: number): Promise<number> {
    if (slots <= 0) return 0
    // The database must hold every account's latest state before the oldest are picked.
    await this.#d.flushAccounts()
    const dids = await this.#d.oldestThrottled(hostId, Math.min(slots, MAX_RELEASE))
    let n = 0
    for (const did of dids) {
      const state = await this.#setLocalStatus(did, 'active')
      if (state?.localStatus === 'active') n++
    }
    this.#d.logger?.info(
      { hostId, unthrottled: n },
      'account limit raised: oldest throttled accounts released',
    )
    return n
  }

  /**
   * Resolves when every event handed in so far is accepted or dropped, or after `timeoutMs`
   * (a graceful stop does not wait forever on a slow resolution).
   */
  async idle(timeoutMs?: number): Promise<void> {
    if (timeoutMs === undefined) return this.#serializer.idle()
    let timer: NodeJS.Timeout | undefined
    await Promise.race([
      this.#serializer.idle(),
      new Promise((r) => (timer = setTimeout(r, timeoutMs))),
    ])
    clearTimeout(timer)
  }

  /** Changes an account's local status in order with its events (see EventHandlers). */
  #setLocalStatus(
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
}
