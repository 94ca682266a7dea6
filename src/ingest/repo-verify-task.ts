// The verification task a worker thread runs for a whole repo fetched from a PDS (a resync or
// repair in archival mode): verify/full-repo.ts with the account's key and the given clock.
// Accepted, it hands back the head and the tree's blocks for the mirror; refused, a reason from
// the closed list. Pure apart from the signature backend it is given.
import type { RepoHead } from '../archive/repo-change.ts'
import type { DropReason } from '../protocol/drop-reasons.ts'
import { parseDidKey } from '../verify/crypto/keys.ts'
import { verifyFullRepo } from '../verify/full-repo.ts'
import type { SignatureCheck } from '../verify/signed-commit.ts'

export interface RepoVerifyTask {
  readonly did: string
  /** The CAR as fetched (transferred to the worker, not copied). */
  readonly car: Uint8Array
  /** The account's signing key as a did:key. */
  readonly didKey: string
  readonly now: number
}

export type RepoVerifyOutcome =
  | {
      readonly ok: true
      readonly head: RepoHead
      readonly tree: Map<string, Uint8Array>
      readonly records: number
    }
  | { readonly ok: false; readonly reason: DropReason; readonly detail: string }

export function runRepoVerifyTask(
  task: RepoVerifyTask,
  checkSignature: SignatureCheck,
): RepoVerifyOutcome {
  const v = verifyFullRepo({
    did: task.did,
    car: task.car,
    key: parseDidKey(task.didKey),
    now: task.now,
    checkSignature,
  })
  if (!v.ok) return v
  return {
    ok: true,
    head: {
      rev: v.commit.rev,
      commitCid: v.commitCid,
      dataCid: v.commit.data.$link,
      commitBlock: v.commitBlock,
    },
    tree: v.tree,
    records: v.records,
  }
}
