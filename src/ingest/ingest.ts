// The per-event pipeline (docs/design.md §2 "ingest", §4 items 6–11b): the one place where identity,
// accounts, hosts, verification and the event log meet. Every upstream event ends as exactly one
// outcome: appended to the event log (accepted) or dropped with a reason (counted); either way
// the host is told the event is settled (its flow control counts it out; a drop is complete for
// its cursor at once, an accepted event when the log has written it).
// Order: events of one account run strictly in order, different accounts concurrently. How many
// events of a host are in flight is bounded by the host's flow control (hosts/flow-control.ts),
// which stops reading its socket; nothing is dropped for being busy.
// A database that is unreachable, busy or full while an event is processed is not the event's
// fault: the event waits and is tried again (backing off to 5 s) until the database answers,
// still in flight, so the host's flow control pauses its socket and nothing is lost. Only an
// attempt that appended nothing is tried again (a retry must not append twice); any other
// failure completes the event as an error, counted, so a bug cannot wedge a host.
// Also the account operations that must be ordered with the account's events: a takedown and its
// reversal, releasing throttled accounts after a raised account limit, and taking in a repo
// fetched by a repair or resync. Each changes the account's state and announces it with an
// event of the relay's own.
// Deliberately not here: sockets, SQL, HTTP; which hosts exist (hosts/); admin routes.
import type { AccountState } from '../accounts/account-state.ts'
import { DatabaseError } from '../db/errors.ts'
import type { AppendInput } from '../eventlog/types.ts'
import type { DropReason } from '../protocol/drop-reasons.ts'
import type { UpstreamEvent } from '../protocol/envelope.ts'
import { AccountSerializer } from './account-serializer.ts'
import { AccountWriter } from './account-writer.ts'
import { EventHandlers } from './handlers.ts'
import { type ResyncInput, type ResyncResult, resynchronize } from './resynchronize.ts'
import type { IngestDeps, IngestStats } from './types.ts'

export type { IngestDeps, IngestHosts, IngestStats } from './types.ts'

/** What reversing a takedown did. */
export type ReverseTakedownResult = 'reversed' | 'unknown-account' | 'not-taken-down'

/** At most this many throttled accounts are released per raised limit (one batch). */
const MAX_RELEASE = 10_000

/** Waits between attempts at an event while the database is away: doubling, at most 5 s. */
const RETRY_FIRST_MS = 200
const RETRY_MAX_MS = 5_000

/** A failure of the database itself (not of the event): worth waiting out. */
function databaseAway(err: unknown): boolean {
  return (
    err instanceof DatabaseError &&
    (err.reason === 'unavailable' || err.reason === 'busy' || err.reason === 'full')
  )
}

/**
 * After a host's account limit was raised: checkpoints, then releases up to `slots` of its
 * throttled accounts, oldest first, each with `release` (in its account's turn, wherever that
 * runs). How many were released.
 */
export async function releaseOldestThrottled(
  d: Pick<IngestDeps, 'flushAccounts' | 'oldestThrottled'> & {
    readonly logger?: { info(obj: object, msg: string): void }
  },
  release: (did: string) => Promise<boolean>,
  hostId: number,
  slots: number,
): Promise<number> {
  if (slots <= 0) return 0
  // The database must hold every account's latest state before the oldest are picked.
  await d.flushAccounts()
  const dids = await d.oldestThrottled(hostId, Math.min(slots, MAX_RELEASE))
  let n = 0
  for (const did of dids) if (await release(did)) n++
  d.logger?.info(
    { hostId, unthrottled: n },
    'account limit raised: oldest throttled accounts released',
  )
  return n
}

export class Ingest {
  readonly #d: IngestDeps
  readonly #serializer = new AccountSerializer()
  readonly #handlers: EventHandlers
  readonly #writer: AccountWriter
  readonly stats: IngestStats = {
    received: 0,
    accepted: 0,
    dropped: 0,
    errors: 0,
    retries: 0,
    inFlight: 0,
  }
  /** Records appended by each account's running event (to know whether it may run again). */
  readonly #appended = new Map<string, number>()
  /** Set by `stop`: events waiting for the database end unsettled instead of waiting on. */
  #stopping = false
  readonly #waits = new Set<() => void>()

  constructor(deps: IngestDeps) {
    this.#d = deps
    const accept = (input: AppendInput) => {
      this.stats.accepted++
      const n = this.#appended.get(input.did)
      if (n !== undefined) this.#appended.set(input.did, n + 1)
      return deps.log.append(input)
    }
    this.#writer = new AccountWriter({ ...deps, accept })
    this.#handlers = new EventHandlers({
      ...deps,
      identityRetry: deps.identityRetry ?? { attempts: 3, delayMs: 1000 },
      accept,
    })
  }

  /** Accounts with an event or operation here now, running or waiting for its turn. */
  get pendingAccounts(): number {
    return this.#serializer.pendingAccounts
  }

  /** Takes one event from a host connection (after its seq check). `raw` is the frame's bytes. */
  handle(hostId: number, msg: UpstreamEvent, raw: Uint8Array): void {
    this.stats.received++
    this.stats.inFlight++
    const did = msg.did
    void this.#serializer.run(did, async () => {
      const span = this.#d.tracer?.startSpan('ingest.event', {
        attributes: { 'event.type': msg.type, 'host.id': hostId, 'event.seq': msg.seq },
      })
      let dropped: { reason: DropReason; detail: string } | null = null
      let failed = false
      for (let attempt = 0, wait = RETRY_FIRST_MS; ; attempt++) {
        this.#appended.set(did, 0)
        try {
          dropped = await this.#handlers.process(hostId, msg, raw)
          break
        } catch (err) {
          const away = databaseAway(err) && this.#appended.get(did) === 0
          if (
            (err instanceof DatabaseError && err.reason === 'closed') ||
            (away && this.#stopping)
          ) {
            // Shutting down: left unsettled, so the stored cursor stays below it and the host
            // sends it again after the restart.
            this.#appended.delete(did)
            this.stats.inFlight--
            span?.end()
            return
          }
          if (away) {
            // Logged on the first attempt and every tenth after: a database that never comes
            // back (a corrupt file) stays visible in the logs, not only on /xrpc/_health.
            if (attempt % 10 === 0) {
              this.#d.onError?.(err, { hostId, seq: msg.seq, did, attempt, waiting: true })
            }
            this.stats.retries++
            await this.#pause(wait)
            wait = Math.min(wait * 2, RETRY_MAX_MS)
            continue
          }
          this.stats.errors++
          this.#d.onError?.(err, { hostId, seq: msg.seq, did })
          // A slot granted to a new account the failure left unstored goes back.
          this.#writer.unadmit(did, hostId)
          failed = true
          break
        }
      }
      this.#appended.delete(did)
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

  /**
   * Takes an account down: its events are no longer served, and in archival mode its stored repo
   * is deleted; false for an unknown account.
   */
  takeDown(did: string): Promise<boolean> {
    const takeDown = async () => {
      const state = await this.#inOrder(did, async () => {
        const s = await this.#writer.setLocalStatus(did, 'takendown')
        if (s) await this.#d.mirror?.delete(did)
        return s
      })
      return state !== undefined
    }
    return this.#d.takedowns ? this.#d.takedowns.hideWhile(did, takeDown) : takeDown()
  }

  /**
   * Reverses a takedown. In archival mode the account comes back desynchronized, so a repair
   * fetches its repo again (the takedown deleted it).
   */
  async reverseTakedown(did: string): Promise<ReverseTakedownResult> {
    const current = await this.#d.accounts.get(did)
    if (!current) return 'unknown-account'
    if (current.localStatus !== 'takendown') return 'not-taken-down'
    await this.#toStatus(did, this.#d.mirror ? 'desynchronized' : 'active')
    this.#d.takedowns?.delete(did)
    return 'reversed'
  }

  /**
   * After a host's account limit was raised: releases up to `slots` throttled accounts, oldest
   * first. Each comes back desynchronized, so a repair announces its current head with `#sync`
   * (records written while it was throttled were never relayed).
   */
  releaseThrottled(hostId: number, slots: number): Promise<number> {
    return releaseOldestThrottled(this.#d, (did) => this.release(did), hostId, slots)
  }

  /**
   * Releases one throttled account (a raised account limit) into one of its host's slots: it
   * comes back desynchronized, so a repair announces its current head. True when it did; false
   * too when the host has no slot left (new accounts admitted since the limit was raised).
   */
  async release(did: string): Promise<boolean> {
    const state = await this.#inOrder(did, () => this.#writer.release(did))
    if (state) this.#d.onDesynchronized?.(did, state.hostId)
    return state !== undefined
  }

  /** Takes in a repo state fetched from the account's PDS, in order with its events. */
  resynchronize(
    did: string,
    input: ResyncInput,
  ): Promise<{ result: ResyncResult; state: AccountState | undefined }> {
    return this.#inOrder(did, () => resynchronize(this.#writer, this.#d, did, input))
  }

  /**
   * Stops waiting for the database: events waiting on it end unsettled at once (their hosts
   * send them again after a restart). Events running on finish as usual (see `idle`).
   */
  stop(): void {
    this.#stopping = true
    for (const wake of this.#waits) wake()
  }

  /** Waits `ms`, or less if `stop` is called. */
  #pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer)
        this.#waits.delete(wake)
        resolve()
      }
      const timer = setTimeout(wake, ms)
      this.#waits.add(wake)
    })
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

  /** Changes an account's local status in order with its events; a repair is due for `desynchronized`. */
  async #toStatus(
    did: string,
    status: AccountState['localStatus'],
  ): Promise<AccountState | undefined> {
    const state = await this.#inOrder(did, () => this.#writer.setLocalStatus(did, status))
    if (status === 'desynchronized' && state?.localStatus === 'desynchronized') {
      this.#d.onDesynchronized?.(did, state.hostId)
    }
    return state
  }

  /** Runs `fn` in order with the account's events; its result or failure is the caller's. */
  #inOrder<T>(did: string, fn: () => Promise<T>): Promise<T> {
    let result: { value: T } | undefined
    let failure: { error: unknown } | undefined
    return this.#serializer
      .run(did, async () => {
        try {
          result = { value: await fn() }
        } catch (error) {
          failure = { error }
        }
      })
      .then(() => {
        if (failure) throw failure.error
        return result!.value
      })
  }
}
