// The part of verification shared by `#commit` and `#sync`: read the CAR slice, find the signed
// commit it names as its first root, check the commit's shape and that it belongs to the event
// (DID and rev), check rev ordering against the previous state and the clock, and check the
// signature with the given key.
// Deliberately not done here: anything about ops or MST inversion (commit.ts), identity lookup or
// which key to use (the caller passes it), and the retry after a signature failure (ingest).
import { CarError, type CarSlice, readCarSlice } from '../protocol/car.ts'
import { DagCborError } from '../protocol/cbor/dag-cbor-error.ts'
import { checkDagCbor } from '../protocol/cbor/strict.ts'
import {
  type Commit,
  CommitFormatError,
  parseCommit,
  unsignedCommitBytes,
} from '../protocol/commit.ts'
import { MAX_FUTURE_REV_MS } from '../protocol/limits.ts'
import { compareTid, isValidTid, tidTimestampMs } from '../protocol/syntax/index.ts'
import type { PublicKey } from './crypto/keys.ts'
import { drop, type Verdict } from './verdict.ts'

/** Checks an ECDSA signature over `message` (sha-256 inside). */
export type SignatureCheck = (key: PublicKey, message: Uint8Array, sig: Uint8Array) => boolean

/** What the relay knows of the account's repo before this event. */
export interface PreviousRepoState {
  readonly rev: string
  /** MST root CID (`commit.data`) of the stored head, if known. */
  readonly data: string | null
}

export interface SignedCommitInput {
  readonly did: string
  /** The event's rev, which the commit's must equal; absent for a whole repo (any rev). */
  readonly rev?: string
  readonly blocks: Uint8Array
  /** For `#commit`: the message's `commit` CID, which must be the CAR's first root. */
  readonly expectedRoot?: string
  readonly key: PublicKey
  readonly previous?: PreviousRepoState | null
  /** Current time in ms since the epoch (injected: verify reads no clock). */
  readonly now: number
  readonly checkSignature: SignatureCheck
}

export interface SignedCommit {
  readonly car: CarSlice
  readonly commit: Commit
  readonly commitCid: string
}

export function verifySignedCommit(input: SignedCommitInput): Verdict<SignedCommit> {
  let car: CarSlice
  try {
    car = readCarSlice(input.blocks)
  } catch (err) {
    if (err instanceof CarError) return drop('bad-car', err.message)
    throw err
  }
  const commitCid = car.roots[0]!
  if (input.expectedRoot !== undefined && commitCid !== input.expectedRoot) {
    return drop(
      'commit-mismatch',
      `CAR root ${commitCid} is not the event's commit ${input.expectedRoot}`,
    )
  }
  const block = car.blocks.get(commitCid)
  if (block === undefined) return drop('bad-car', `commit block ${commitCid} is not in the CAR`)

  let commit: Commit
  try {
    checkDagCbor(block)
    commit = parseCommit(block)
  } catch (err) {
    if (err instanceof CommitFormatError || err instanceof DagCborError) {
      return drop('bad-commit', err.message)
    }
    throw err
  }
  if (!isValidTid(commit.rev)) return drop('bad-commit', 'commit rev is not a TID')
  if (commit.did !== input.did)
    return drop('commit-mismatch', `commit is for ${commit.did}, event for ${input.did}`)
  if (input.rev !== undefined && commit.rev !== input.rev)
    return drop('commit-mismatch', `commit rev ${commit.rev}, event rev ${input.rev}`)

  if (tidTimestampMs(commit.rev) > input.now + MAX_FUTURE_REV_MS) {
    return drop('future-rev', `rev ${commit.rev} is more than 5 minutes in the future`)
  }
  const previous = input.previous
  if (previous && compareTid(commit.rev, previous.rev) <= 0) {
    return drop('stale-rev', `rev ${commit.rev} is not after the stored rev ${previous.rev}`)
  }
  if (!input.checkSignature(input.key, unsignedCommitBytes(commit), commit.sig)) {
    return drop('bad-signature', `signature does not verify with ${input.key.didKey}`)
  }
  return { ok: true, warnings: [], car, commit, commitCid }
}
