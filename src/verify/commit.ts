// Verification of `#commit` and `#sync` events (docs/design.md §4 items 6-10; sync spec "Commit
// Validation"). Pure: everything comes in as arguments (signing key, previous repo state, clock,
// signature check, validation mode) and the answer is a verdict.
//
// `#commit`: size limits (ops, blocks, record blocks); the CAR slice, its first root being the
// event's `commit`; the signed commit's shape, DID and rev matching the event; rev not in the
// future and after the stored rev; the signature; then sync 1.1 MST inversion: the ops must be
// true of the signed tree and undo to `prevData`. In strict mode a missing `prevData` or a failed
// inversion drops the commit; in lenient mode they pass with a warning. A chain break (`since` or
// `prevData` not matching the stored state) passes in both modes, with a warning.
// `#sync`: size limit, CAR slice with the commit as first root, shape, DID and rev, future and
// stale rev (a sync never rolls an account back), signature.
//
// Deliberately not checked here: which key or host is right for the account (identity and
// ingest), account status, frame decoding and message field syntax (protocol/messages.ts).
import type { CarSlice } from '../protocol/car.ts'
import {
  MAX_COMMIT_BLOCKS_BYTES,
  MAX_COMMIT_OPS,
  MAX_RECORD_BYTES,
  MAX_SYNC_BLOCKS_BYTES,
} from '../protocol/limits.ts'
import type { CommitMessage, SyncMessage } from '../protocol/messages.ts'
import type { PublicKey } from './crypto/keys.ts'
import { EMPTY_MST_ROOT, invertOps } from './invert.ts'
import { type PreviousRepoState, type SignatureCheck, verifySignedCommit } from './signed-commit.ts'
import type { TreeChange } from './tree-change.ts'
import type { ValidationMode } from './validation-mode.ts'
import { type AcceptedRepoState, drop, type Verdict, type VerifyWarning } from './verdict.ts'

export type { ValidationMode } from './validation-mode.ts'

export interface VerifyContext {
  readonly key: PublicKey
  /** The account's stored state, or null for an account the relay has no commit for. */
  readonly previous: PreviousRepoState | null
  readonly now: number
  readonly mode: ValidationMode
  readonly checkSignature: SignatureCheck
  /** Archival mode: work out what a proven commit changes in the tree, for the mirror. */
  readonly withChange?: boolean
}

export interface CommitVerdictDetail extends AcceptedRepoState {
  /** Whether the commit carried `prevData` and its ops inverted to it. */
  readonly inverted: boolean
  /** The event's CAR slice, read and checked (archival mode applies it to the mirror). */
  readonly car: CarSlice
  /** With `withChange`, for a proven commit on a non-empty tree: what it changed. */
  readonly change?: TreeChange
}

export async function verifyCommit(
  msg: CommitMessage,
  ctx: VerifyContext,
): Promise<Verdict<CommitVerdictDetail>> {
  if (msg.ops.length > MAX_COMMIT_OPS)
    return drop('too-many-ops', `${msg.ops.length} ops (limit ${MAX_COMMIT_OPS})`)
  if (msg.blocks.length > MAX_COMMIT_BLOCKS_BYTES) {
    return drop(
      'blocks-too-large',
      `blocks are ${msg.blocks.length} bytes (limit ${MAX_COMMIT_BLOCKS_BYTES})`,
    )
  }
  const signed = verifySignedCommit({
    did: msg.repo,
    rev: msg.rev,
    blocks: msg.blocks,
    expectedRoot: msg.commit.$link,
    key: ctx.key,
    previous: ctx.previous,
    now: ctx.now,
    checkSignature: ctx.checkSignature,
  })
  if (!signed.ok) return signed
  const { car, commit, commitCid } = signed
  // Every created or updated record travels with the commit (consumers get the record data from
  // the event); only the deprecated `tooBig` commits were allowed to leave blocks out.
  for (const op of msg.ops) {
    if (op.cid === null) continue
    const record = car.blocks.get(op.cid.$link)
    if (record === undefined) {
      if (msg.tooBig) continue
      return drop('bad-car', `record block of ${op.action} ${op.path} is not in the CAR`)
    }
    if (record.length > MAX_RECORD_BYTES) {
      return drop(
        'record-too-large',
        `record ${op.path} is ${record.length} bytes (limit ${MAX_RECORD_BYTES})`,
      )
    }
  }

  const warnings: VerifyWarning[] = []
  const dataCid = commit.data.$link
  let inverted = false
  let change: TreeChange | undefined
  // A repo's first commit (`since` null) may omit `prevData`: its ops must then undo to the
  // empty tree, which proves they list every record the repo starts with; if they do not, that is
  // an inversion failure like any other.
  const genesis = msg.prevData === undefined && msg.since === null
  const expectedPrevious = msg.prevData?.$link ?? (genesis ? EMPTY_MST_ROOT : undefined)
  if (expectedPrevious === undefined) {
    if (ctx.mode === 'strict') return drop('missing-prev-data', 'commit has no prevData (sync 1.1)')
    warnings.push('missing-prev-data')
  } else {
    const result = invertOps(car.blocks, dataCid, msg.ops, ctx.withChange === true)
    if (result.ok && result.previousRoot === expectedPrevious) {
      inverted = true
      change = result.change
    } else {
      const detail = result.ok
        ? `ops invert to ${result.previousRoot}, not ${genesis ? 'the empty tree' : 'prevData'} ${expectedPrevious}`
        : `ops do not invert: ${result.problem}`
      if (ctx.mode === 'strict') return drop('inversion-failed', detail)
      warnings.push('inversion-failed')
    }
  }
  const previous = ctx.previous
  if (previous) {
    const sinceBreak = msg.since !== previous.rev
    const dataBreak =
      msg.prevData !== undefined && previous.data !== null && msg.prevData.$link !== previous.data
    if (sinceBreak || dataBreak) warnings.push('chain-break')
  }
  return {
    ok: true,
    warnings,
    rev: commit.rev,
    commitCid,
    dataCid,
    inverted,
    car,
    ...(change ? { change } : {}),
  }
}

export function verifySync(
  msg: SyncMessage,
  ctx: Omit<VerifyContext, 'mode'>,
): Verdict<AcceptedRepoState & { readonly car: CarSlice }> {
  if (msg.blocks.length > MAX_SYNC_BLOCKS_BYTES) {
    return drop(
      'blocks-too-large',
      `blocks are ${msg.blocks.length} bytes (limit ${MAX_SYNC_BLOCKS_BYTES})`,
    )
  }
  const signed = verifySignedCommit({
    did: msg.did,
    rev: msg.rev,
    blocks: msg.blocks,
    key: ctx.key,
    previous: ctx.previous,
    now: ctx.now,
    checkSignature: ctx.checkSignature,
  })
  if (!signed.ok) return signed
  return {
    ok: true,
    warnings: [],
    rev: signed.commit.rev,
    commitCid: signed.commitCid,
    dataCid: signed.commit.data.$link,
    car: signed.car,
  }
}
