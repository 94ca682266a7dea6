// The rules for each kind of upstream event (docs/design.md §4 items 6–11b), run by the pipeline
// (ingest.ts) in order per account: host authority (the DID document names the host the event
// came from, else one fresh resolution, then drop), account status (inactive accounts' commits
// dropped, a rate-limited getRepoStatus recheck when the PDS may have reactivated it),
// verification in the worker pool (with one fresh resolution when the signature fails: the key
// may have rotated), host account slots (new accounts beyond the limit are throttled), and the
// sync ratchet. An accepted event is appended once and applied to the account's state with the
// one account-state rule (accounts/account-events.ts); `#account` records carry a note saying
// the status event, for start-up recovery.
// Deliberately not here: ordering and counting (ingest.ts), sockets, SQL.
import {
  type AccountEvent,
  announcedStatus,
  applyAccountEvent,
  statusNote,
} from '../accounts/account-events.ts'
import { type AccountState, effectiveStatus, inactiveReason } from '../accounts/account-state.ts'
import type { AppendInput, LogRecord } from '../eventlog/types.ts'
import { RELAY_HOST_ID } from '../hosts/host-id.ts'
import { effectiveMode } from '../hosts/sync-ratchet.ts'
import type { Identity } from '../identity/did-document.ts'
import { endpointHost } from '../identity/pds-endpoints.ts'
import type { DropReason } from '../protocol/drop-reasons.ts'
import type { RepoEnvelope, UpstreamEvent } from '../protocol/envelope.ts'
import type { AccountMessage, IdentityMessage } from '../protocol/messages.ts'
import { accountBody, identityBody } from '../protocol/output.ts'
import { AccountWriter } from './account-writer.ts'
import { IdentityLookups } from './identity-lookups.ts'
import { didKeyOf } from './signing-keys.ts'
import type { IngestDeps } from './types.ts'
import { VerifyWorkerError } from './verify-pool.ts'
import type { VerifyOutcome, VerifyTask } from './verify-task.ts'

/** An account status event: what an `#account` record logs (statusNote). */
type StatusEvent = Extract<AccountEvent, { kind: 'upstream-status' | 'relay-status' }>

export type Outcome = { reason: DropReason; detail: string } | null

export interface HandlerDeps extends IngestDeps {
  readonly identityRetry: { attempts: number; delayMs: number }
  readonly accept: (input: AppendInput) => LogRecord
}

/** A verification that failed for the key: none named, unusable, or not the one that signed. */
const keyFailed = (o: VerifyOutcome | null): boolean =>
  o === null || (!o.ok && (o.reason === 'bad-signature' || o.reason === 'identity-unavailable'))

const REPO_STATUS_RECHECK_MS = 10 * 60 * 1000
const MAX_RECHECK_ENTRIES = 100_000

const drop = (reason: DropReason, detail: string): Outcome => ({ reason, detail })

export class EventHandlers {
  readonly #d: HandlerDeps
  readonly #identities: IdentityLookups
  readonly #w: AccountWriter
  /** Last getRepoStatus check per DID (bounded: cleared when it grows past a limit). */
  readonly #rechecked = new Map<string, number>()

  constructor(deps: HandlerDeps) {
    this.#d = deps
    this.#identities = new IdentityLookups(deps)
    this.#w = new AccountWriter(deps)
  }

  async process(hostId: number, msg: UpstreamEvent, raw: Uint8Array): Promise<Outcome> {
    const host = this.#d.hosts.ingestView(hostId)
    if (!host) return drop('host-banned', `host ${hostId} is not registered`)
    if (host.banned) return drop('host-banned', `${host.hostname} is banned`)
    switch (msg.type) {
      case '#identity':
        return this.#identity(hostId, host.hostname, msg)
      case '#account':
        return this.#account(hostId, host.hostname, msg)
      case '#commit':
      case '#sync':
        return this.#repoEvent(hostId, host.hostname, msg, raw)
    }
  }

  /** Host authority: the account's identity, moved to this host if it migrated here. */
  async #authority(
    hostId: number,
    hostname: string,
    did: string,
  ): Promise<
    { identity: Identity; account: AccountState } | { reason: DropReason; detail: string }
  > {
    let identity = await this.#identities.resolve(did, false)
    if (!identity) return { reason: 'identity-unavailable', detail: `cannot resolve ${did}` }
    if (endpointHost(identity.pds) !== hostname) {
      identity = await this.#identities.resolve(did, true, hostId)
      if (!identity) return { reason: 'identity-unavailable', detail: `cannot resolve ${did}` }
      if (endpointHost(identity.pds) !== hostname) {
        return {
          reason: 'wrong-host',
          detail: `${did} is hosted at ${identity.pds ?? 'no PDS'}, not ${hostname}`,
        }
      }
    }
    const known = await this.#d.accounts.get(did)
    return { identity, account: known ?? this.#w.fresh(did, hostId, this.#d.now()) }
  }

  async #identity(hostId: number, hostname: string, msg: IdentityMessage): Promise<Outcome> {
    // The account first: when the database is away the event waits and runs again, and the
    // forced identity refresh below (a directory request) then happens once, not per attempt.
    let account = await this.#d.accounts.get(msg.did)
    const identity = await this.#identities.resolve(msg.did, true, hostId)
    if (!identity) return drop('identity-unavailable', `cannot resolve ${msg.did}`)
    const now = this.#d.now()
    if (!account) {
      if (endpointHost(identity.pds) !== hostname) {
        return drop(
          'wrong-host',
          `unknown account ${msg.did} announced by ${hostname}, hosted at ${identity.pds}`,
        )
      }
      const admitted = this.#w.admit(this.#w.fresh(msg.did, hostId, now))
      account = admitted instanceof Promise ? await admitted : admitted
    }
    const record = this.#w.append(
      '#identity',
      identityBody(msg.did, msg.time, identity.handle),
      hostId,
      msg.seq,
      msg.did,
    )
    this.#w.apply(account, { kind: 'identity', hostId, handle: identity.handle }, record.seq)
    return null
  }

  async #account(hostId: number, hostname: string, msg: AccountMessage): Promise<Outcome> {
    const auth = await this.#authority(hostId, hostname, msg.did)
    if ('reason' in auth) return auth
    const upstream = announcedStatus(msg.active, msg.status)
    const admitting = this.#w.admit(auth.account)
    const before = admitting instanceof Promise ? await admitting : admitting
    const announced = msg.active ? { upstreamActive: true } : { upstreamActive: false, upstream }
    const { event, state } = await this.#withSlot(
      before,
      { kind: 'upstream-status', hostId, upstream },
      { kind: 'relay-status', localStatus: 'throttled', ...announced },
      hostId,
      this.#d.now(),
    )
    const record = this.#w.append(
      '#account',
      accountBody({ did: msg.did, time: msg.time, ...effectiveStatus(state) }),
      hostId,
      msg.seq,
      msg.did,
      statusNote(event),
    )
    this.#w.save(state, record.seq, before)
    // The PDS deleted the repo: so does the mirror (a later commit would find it missing and
    // have it repaired from the PDS).
    if (msg.status === 'deleted' && this.#d.mirror) {
      await this.#d.mirror.delete(msg.did).catch((err: unknown) => {
        this.#d.onError?.(err, { hostId, seq: msg.seq, did: msg.did })
      })
    }
    return null
  }

  async #repoEvent(
    hostId: number,
    hostname: string,
    msg: RepoEnvelope,
    raw: Uint8Array,
  ): Promise<Outcome> {
    const did = msg.did
    const auth = await this.#authority(hostId, hostname, did)
    if ('reason' in auth) return auth
    let { identity, account } = auth
    const inactive = inactiveReason(account)
    if (inactive === 'account-inactive') {
      const reactivated = await this.#recheckStatus(account, identity, hostId)
      if (!reactivated) return drop(inactive, `${did} is ${account.upstreamStatus} upstream`)
      account = reactivated
      // Back from deleted on a host with no slot left: throttled now.
      if (account.localStatus === 'throttled') {
        return drop('account-throttled', `${did} is back beyond its host's account limit`)
      }
    } else if (inactive) {
      // A new account throttled on arrival is stored as such, so raising the host's limit can
      // release it later (oldest first).
      if (this.#w.isNew(account)) this.#w.save(account, 0, account)
      return drop(inactive, `${did} is ${account.localStatus} on this relay`)
    }

    const host = this.#d.hosts.ingestView(hostId)!
    const mode = msg.type === '#commit' ? effectiveMode(host.sync, this.#d.syncDefault) : 'strict'
    // A `#sync` of the head the relay already has (same rev, same commit) re-announces it, as the
    // reference PDS does right after an account's first commit and on reactivation: not a
    // roll-back (docs/design.md §4 item 8), so it is verified without the rev-order check and passes,
    // changing nothing. The same rev with another commit is still stale-rev.
    const reannounce = msg.type === '#sync' && account.rev !== null && msg.rev === account.rev
    const previous = account.rev && !reannounce ? { rev: account.rev, data: account.dataCid } : null
    const verifyWith = async (id: Identity) => {
      const didKey = id.signingKey ? didKeyOf(id.signingKey) : null
      if (didKey === null) return null
      return this.#verify(raw, { didKey, previous, mode, archive: this.#d.mirror !== undefined })
    }
    let outcome = await verifyWith(identity)
    if (keyFailed(outcome)) {
      // The key may have rotated, or the document been fixed: resolve once more and try again
      // (docs/design.md §4 item 6). An unusable key is only found by the verification, which
      // parses it (signing-keys.ts).
      const fresh = await this.#identities.resolve(did, true, hostId)
      if (
        fresh &&
        fresh.signingKey?.publicKeyMultibase !== identity.signingKey?.publicKeyMultibase
      ) {
        identity = fresh
        outcome = await verifyWith(fresh)
      }
    }
    if (outcome === null) return drop('identity-unavailable', `${did} has no usable signing key`)
    if (!outcome.ok) return drop(outcome.reason, outcome.detail)
    if (reannounce && outcome.commitCid !== account.commitCid) {
      return drop(
        'stale-rev',
        `sync of the stored rev ${msg.rev} names commit ${outcome.commitCid}, not the stored ${account.commitCid ?? 'none'}`,
      )
    }

    if (outcome.type === '#commit') {
      this.#d.hosts.commitAccepted(hostId, outcome.inverted && outcome.warnings.length === 0)
    }
    // Account slots are taken when an account is first stored, decided here with no await before
    // the store where this thread counts them, so concurrent first events of different accounts
    // cannot all take the last slot; in a shard the main thread grants and counts each at once.
    const admitting = this.#w.admit(account)
    const admitted = admitting instanceof Promise ? await admitting : admitting
    if (admitted.localStatus === 'throttled' && account.localStatus !== 'throttled') {
      this.#w.save(admitted, 0, admitted)
      return drop('account-throttled', `${did} is a new account beyond its host's account limit`)
    }
    const record = this.#d.accept({
      frame: { type: outcome.type, prefix: outcome.prefix, suffix: outcome.suffix },
      hostId,
      upstreamSeq: msg.seq,
      did,
    })
    const state = this.#w.apply(
      account,
      {
        kind: 'head',
        hostId,
        rev: outcome.rev,
        commitCid: outcome.commitCid,
        dataCid: outcome.dataCid,
      },
      record.seq,
    )
    await this.#followChain(state, outcome)
    return null
  }

  /**
   * After an accepted `#commit` or `#sync`: whether the relay still follows the account's repo.
   * A commit whose chain broke (`since`/`prevData` not the stored head, or ops that do not invert
   * on a lenient host) desynchronizes it in both modes: the event itself was valid and is
   * relayed, and a repair will announce the repo's state with `#sync`. Archival mode also applies
   * the event to the mirror, and desynchronizes the account when the mirror cannot follow it (a
   * block it needs was never seen). An account already desynchronized waits for its repair.
   */
  async #followChain(state: AccountState, outcome: VerifyOutcome & { ok: true }): Promise<void> {
    if (state.localStatus !== 'active') return
    const mirror = this.#d.mirror
    let problem: string | null = null
    const broke = outcome.warnings.filter((w) => w === 'chain-break' || w === 'inversion-failed')
    if (broke.length > 0) {
      // Consumers missed what came between, whatever the mirror can do: announce it with #sync.
      problem = `the commit chain broke (${broke.join(', ')})`
    } else if (mirror && outcome.mirror) {
      try {
        const applied = await mirror.applyCommit(
          state.did,
          outcome.mirror.head,
          outcome.mirror.blocks,
          outcome.mirror.change,
        )
        if (!applied.ok) problem = `the mirror lacks block ${applied.missing}`
      } catch (err) {
        this.#d.onError?.(err, { hostId: state.hostId, seq: 0, did: state.did })
        problem = 'the mirror could not be written'
      }
    }
    if (problem === null) return
    this.#d.logger?.warn(
      { did: state.did, hostId: state.hostId, problem },
      'account desynchronized',
    )
    const next = await this.#w.setLocalStatus(state.did, 'desynchronized')
    if (next?.localStatus === 'desynchronized') this.#d.onDesynchronized?.(state.did, state.hostId)
  }

  /**
   * Runs a verification where it is placed (here or in a worker, or on a peer shard). A task
   * whose worker died is retried once, on the same bytes: a verification never detaches the
   * frame it is given (what crosses to another thread is a copy).
   */
  async #verify(raw: Uint8Array, task: Omit<VerifyTask, 'frame' | 'now'>): Promise<VerifyOutcome> {
    try {
      return await this.#d.verify({ ...task, frame: raw, now: this.#d.now() })
    } catch (err) {
      if (!(err instanceof VerifyWorkerError)) throw err
      return await this.#d.verify({ ...task, frame: raw, now: this.#d.now() })
    }
  }

  /** §4 item 11b: PDSes do not always announce reactivation; ask, at most every 10 minutes. */
  async #recheckStatus(
    account: AccountState,
    identity: Identity,
    hostId: number,
  ): Promise<AccountState | null> {
    const check = this.#d.checkRepoStatus
    if (!check || !identity.pds) return null
    const now = this.#d.now()
    const last = this.#rechecked.get(account.did)
    if (last !== undefined && now - last < REPO_STATUS_RECHECK_MS) return null
    if (this.#rechecked.size >= MAX_RECHECK_ENTRIES) this.#rechecked.clear()
    this.#rechecked.set(account.did, now)
    const status = await check(identity.pds, account.did).catch(() => null)
    if (!status?.active) return null
    const confirmed = { kind: 'relay-status', upstreamActive: true } as const
    const { event, state } = await this.#withSlot(
      account,
      { ...confirmed, localStatus: account.localStatus },
      { ...confirmed, localStatus: 'throttled' },
      hostId,
      now,
    )
    // The relay's own event: the PDS never sent one.
    const time = new Date(now).toISOString()
    const record = this.#w.append(
      '#account',
      accountBody({ did: account.did, time, ...effectiveStatus(state) }),
      RELAY_HOST_ID,
      0,
      account.did,
      statusNote(event),
    )
    this.#w.save(state, record.seq, account)
    return state
  }

  /**
   * `event` applied to `before` at `now`, with the slot an account back from deleted upstream takes again
   * as a new one does (`claim`, for an event from host `from`). With none left, `refused` is
   * applied instead: the relay throttles the account, and the logged event says so, so a replay
   * of the log does the same.
   */
  async #withSlot(
    before: AccountState,
    event: StatusEvent,
    refused: StatusEvent,
    from: number,
    now: number,
  ): Promise<{ event: StatusEvent; state: AccountState }> {
    const state = applyAccountEvent(before, before.did, event, now)
    const claiming = this.#w.claim(before, state, from)
    if (claiming instanceof Promise ? await claiming : claiming) return { event, state }
    return { event: refused, state: applyAccountEvent(before, before.did, refused, now) }
  }
}
