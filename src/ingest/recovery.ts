// Recovery at start (docs/design.md §3): replays the event log written after the last checkpoints to
// rebuild what the database may lack after a crash: account heads and statuses after
// `accounts_checkpoint_seq`, and, per host, the upstream seqs above its stored cursor that were
// already accepted (so they are skipped, not received and emitted twice).
import type { AccountCache } from '../accounts/account-cache.ts'
import { newAccount } from '../accounts/account-state.ts'
import type { LogRecord } from '../eventlog/types.ts'
import { readCarSlice } from '../protocol/car.ts'
import { parseCommit } from '../protocol/commit.ts'
import { decodeFrame } from '../protocol/frame.ts'
import { parseMessage } from '../protocol/messages.ts'

export interface RecoveryInput {
  readonly log: { scan(afterSeq: number): AsyncIterable<LogRecord> }
  readonly accounts: AccountCache
  readonly accountsCheckpoint: number
  readonly cursorsScanFrom: number
  readonly hostCursors: ReadonlyMap<number, number | null>
  readonly now: number
}

export interface RecoveryResult {
  readonly recordsReplayed: number
  readonly accountsUpdated: number
  readonly skipSeqs: Map<number, Set<number>>
  /** The records behind `skipSeqs` (the cursor book must keep them until cursors pass them). */
  readonly pending: { hostId: number; upstreamSeq: number; seq: number }[]
}

export async function recover(input: RecoveryInput): Promise<RecoveryResult> {
  const from = Math.min(input.accountsCheckpoint, input.cursorsScanFrom - 1)
  const skipSeqs = new Map<number, Set<number>>()
  const pending: RecoveryResult['pending'] = []
  let recordsReplayed = 0
  let accountsUpdated = 0
  for await (const record of input.log.scan(Math.max(0, from))) {
    recordsReplayed++
    if (record.hostId !== 0) {
      const cursor = input.hostCursors.get(record.hostId) ?? null
      if (cursor !== null && record.upstreamSeq > cursor) {
        let set = skipSeqs.get(record.hostId)
        if (!set) {
          set = new Set()
          skipSeqs.set(record.hostId, set)
        }
        set.add(record.upstreamSeq)
        pending.push({ hostId: record.hostId, upstreamSeq: record.upstreamSeq, seq: record.seq })
      }
    }
    if (
      record.seq > input.accountsCheckpoint &&
      (await applyRecord(input.accounts, record, input.now))
    )
      accountsUpdated++
  }
  return { recordsReplayed, accountsUpdated, skipSeqs, pending }
}

/** Applies one logged event to the account's state (the log holds only accepted events). */
async function applyRecord(
  accounts: AccountCache,
  record: LogRecord,
  now: number,
): Promise<boolean> {
  const frame = decodeFrame(record.frame)
  if (frame.op !== 1) return false
  const msg = parseMessage(frame)
  if (msg.type === '#info') return false
  const did = msg.type === '#commit' ? msg.repo : msg.did
  const state = (await accounts.get(did)) ?? newAccount(did, record.hostId, now)
  const hostId = record.hostId !== 0 ? record.hostId : state.hostId
  switch (msg.type) {
    case '#commit':
    case '#sync': {
      const car = readCarSlice(msg.blocks)
      const commitCid = car.roots[0]!
      const commit = parseCommit(car.blocks.get(commitCid)!)
      accounts.set(
        { ...state, hostId, rev: commit.rev, commitCid, dataCid: commit.data.$link },
        record.seq,
      )
      return true
    }
    case '#account': {
      let { localStatus, upstreamStatus } = state
      if (record.hostId === 0) {
        // The relay's own #account: a takedown, its reversal, a throttle release, or a
        // reactivation its PDS confirmed (then `active` is true).
        localStatus =
          msg.status === 'takendown'
            ? 'takendown'
            : msg.status === 'throttled'
              ? 'throttled'
              : 'active'
        if (msg.active) upstreamStatus = 'active'
      } else if (state.localStatus === 'active') {
        // An upstream #account was emitted with the relay's view; while the account's local
        // status is not active that view hides the upstream status, which then stays as it was.
        upstreamStatus = msg.active ? 'active' : (msg.status ?? 'deactivated')
      }
      accounts.set({ ...state, hostId, localStatus, upstreamStatus }, record.seq)
      return true
    }
    case '#identity':
      accounts.set({ ...state, hostId, handle: msg.handle ?? null }, record.seq)
      return true
  }
}
