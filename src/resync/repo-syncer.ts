// Fetching one account's repo state from its PDS and taking it in: the machinery a repair, an
// operator's resync of one account, and a whole-host resync share.
// 1. The account's identity is resolved afresh; its DID document must name a PDS the relay knows
//    (and, for a host's resync, that host: host authority, as for live events) and a usable key.
// 2. Archival mode fetches the whole repo (`getRepo`) and has a verify worker check all of it
//    (verify/full-repo.ts); otherwise only the signed head (`getLatestCommit`, then `getBlocks`
//    for the commit block, whose CAR names no root: the commit is picked out by its CID),
//    checked here. Requests wait for the host's crawl-rate slot; a host that answers 429 is held
//    back until its limit resets (pacer.ts).
// 3. Ingest takes it in, in order with the account's events (ingest/resynchronize.ts). A head
//    older than the relay's (a commit arrived meanwhile) is fetched once more.
// A repo that does not verify is refused with a drop reason from the closed list, counted for
// the host like a dropped event, and never stored.
// Deliberately not here: queues and schedules (repairs.ts, host-resyncs.ts).
import { fromUint8Array } from '@atcute/car'
import * as CID from '@atcute/cid'
import type { AccountState } from '../accounts/account-state.ts'
import type { Identity } from '../identity/did-document.ts'
import { endpointHost } from '../identity/pds-endpoints.ts'
import type { Drop } from '../ingest/drop-counter.ts'
import type { RepoVerifyOutcome, RepoVerifyTask } from '../ingest/repo-verify-task.ts'
import type { ResyncInput, ResyncResult } from '../ingest/resynchronize.ts'
import { encodeCarSlice } from '../protocol/car.ts'
import type { DropReason } from '../protocol/drop-reasons.ts'
import { KeyParseError, parseDidKey, parseVerificationMethod } from '../verify/crypto/keys.ts'
import { verifySignature } from '../verify/crypto/signature.ts'
import { verifySignedCommit } from '../verify/signed-commit.ts'
import type { HostPacer } from './pacer.ts'
import { type PdsClient, PdsRequestError, type PdsTarget } from './pds-client.ts'

export interface SyncHost extends PdsTarget {
  readonly id: number
  readonly crawlRate: number
}

export interface RepoSyncerDeps {
  /** Archival mode: fetch and mirror whole repos; otherwise only signed heads. */
  readonly archive: boolean
  readonly pds: PdsClient
  readonly pacer: HostPacer
  /** The DID's identity, resolved afresh (null when it cannot be). */
  readonly resolveIdentity: (did: string) => Promise<Identity | null>
  /** A host the relay knows, by `host[:port]`. */
  readonly hostByName: (hostname: string) => SyncHost | undefined
  readonly verifyRepo: (task: RepoVerifyTask) => Promise<RepoVerifyOutcome>
  readonly resynchronize: (
    did: string,
    input: ResyncInput,
  ) => Promise<{ result: ResyncResult; state: AccountState | undefined }>
  readonly drops: { record(drop: Drop): void }
  readonly now: () => number
}

export type SyncAccountResult =
  | {
      readonly did: string
      readonly result: ResyncResult
      readonly rev: string
      /** Archival mode: the records the fetched repo holds. */
      readonly records?: number
    }
  | {
      readonly did: string
      readonly result: 'failed'
      /** A drop reason when the repo was refused; a fetch failure's kind otherwise. */
      readonly reason: DropReason | PdsRequestError['kind'] | 'wrong-host' | 'unknown-host'
      readonly detail: string
    }

const failed = (
  did: string,
  reason: Extract<SyncAccountResult, { result: 'failed' }>['reason'],
  detail: string,
): SyncAccountResult => ({ did, result: 'failed', reason, detail })

export class RepoSyncer {
  readonly #d: RepoSyncerDeps

  constructor(deps: RepoSyncerDeps) {
    this.#d = deps
  }

  /**
   * Fetches and takes in the account's repo (or head). `expectHost`: the host whose resync this
   * is (the account's DID document must name it). `announce`: emit `#sync` even when unchanged.
   */
  async syncAccount(
    did: string,
    opts: { expectHost?: string; announce: boolean; signal?: AbortSignal },
  ): Promise<SyncAccountResult> {
    const identity = await this.#d.resolveIdentity(did)
    if (!identity) return failed(did, 'identity-unavailable', `cannot resolve ${did}`)
    const hostname = endpointHost(identity.pds)
    if (!hostname) return failed(did, 'identity-unavailable', `${did} names no PDS`)
    if (opts.expectHost && hostname !== opts.expectHost) {
      return failed(did, 'wrong-host', `${did} is hosted at ${hostname}, not ${opts.expectHost}`)
    }
    const host = this.#d.hostByName(hostname)
    if (!host)
      return failed(
        did,
        'unknown-host',
        `${did} is hosted at ${hostname}, which this relay does not crawl`,
      )
    let didKey: string | null = null
    try {
      if (identity.signingKey) didKey = parseVerificationMethod(identity.signingKey).didKey
    } catch (err) {
      if (!(err instanceof KeyParseError)) throw err
    }
    if (!didKey) return failed(did, 'identity-unavailable', `${did} has no usable signing key`)
    for (let attempt = 0; ; attempt++) {
      const input = await this.#fetch(did, host, didKey, opts.announce, opts.signal)
      if ('result' in input) return input
      const { result } = await this.#d.resynchronize(did, input.input)
      // A commit newer than what was fetched arrived meanwhile: fetch once more.
      if (result === 'stale' && attempt === 0) continue
      return {
        did,
        result,
        rev: input.input.head.rev,
        ...(input.records !== undefined ? { records: input.records } : {}),
      }
    }
  }

  async #fetch(
    did: string,
    host: SyncHost,
    didKey: string,
    announce: boolean,
    signal: AbortSignal | undefined,
  ): Promise<{ input: ResyncInput; records?: number } | SyncAccountResult> {
    const refuse = (reason: DropReason, detail: string) => {
      this.#d.drops.record({
        hostId: host.id,
        reason,
        did,
        seq: undefined,
        detail: `resync: ${detail}`,
      })
      return failed(did, reason, detail)
    }
    try {
      await this.#d.pacer.take(host.id, host.crawlRate, signal)
      if (this.#d.archive) {
        const car = await this.#d.pds.getRepo(host, did, signal)
        const v = await this.#d.verifyRepo({ did, car, didKey, now: this.#d.now() })
        if (!v.ok) return refuse(v.reason, v.detail)
        return {
          input: { hostId: host.id, head: v.head, tree: v.tree, announce },
          records: v.records,
        }
      }
      const latest = await this.#d.pds.getLatestCommit(host, did, signal)
      await this.#d.pacer.take(host.id, host.crawlRate, signal)
      const car = await this.#d.pds.getBlocks(host, did, [latest.cid], signal)
      const blocks = commitSlice(car, latest.cid)
      if (typeof blocks === 'string') return refuse('bad-car', blocks)
      const v = verifySignedCommit({
        did,
        rev: latest.rev,
        blocks,
        expectedRoot: latest.cid,
        key: parseDidKey(didKey),
        now: this.#d.now(),
        checkSignature: verifySignature,
      })
      if (!v.ok) return refuse(v.reason, v.detail)
      const commitBlock = v.car.blocks.get(v.commitCid)!
      return {
        input: {
          hostId: host.id,
          head: {
            rev: v.commit.rev,
            commitCid: v.commitCid,
            dataCid: v.commit.data.$link,
            commitBlock,
          },
          announce,
        },
      }
    } catch (err) {
      if (!(err instanceof PdsRequestError)) throw err
      if (err.kind === 'rate-limited') this.#d.pacer.rateLimited(host.id, err.retryAt)
      return failed(did, err.kind, err.message)
    }
  }
}

/**
 * The commit block out of a getBlocks answer, as a CAR slice rooted at it (what
 * verifySignedCommit reads, hashing the block against its CID); a reason when it is not there.
 */
function commitSlice(car: Uint8Array, commitCid: string): Uint8Array | string {
  try {
    for (const entry of fromUint8Array(car)) {
      if (CID.toString(entry.cid) === commitCid) {
        return encodeCarSlice([commitCid], [[commitCid, entry.bytes]])
      }
    }
  } catch (err) {
    return `getBlocks answer is not a CAR: ${(err as Error).message}`
  }
  return `getBlocks answer lacks the commit block ${commitCid}`
}
