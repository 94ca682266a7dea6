// A whole repository as `com.atproto.sync.getRepo` serves it (a CAR whose first root is the
// signed commit), checked completely before the mirror stores it: every block hashes to its CID
// (car.ts); the commit is well formed, names the account, is not from the future and is signed
// by the account's current key (signed-commit.ts); the MST from the commit's root is valid
// throughout (tree-shape.ts: node structure, key order, heights, bounds); and it is complete:
// every subtree and every record the tree names is in the CAR.
// The tree's blocks (nodes and records) are handed back without the commit or any block the tree
// does not reach (a CAR may carry extra blocks; they are not stored).
// Deliberately not checked here: record contents against Lexicons (a relay does not), rev order
// against a stored head (a resync may move a repo anywhere; the caller decides), and size limits
// (the fetch enforced them while reading).
import type { Commit } from '../protocol/commit.ts'
import type { PublicKey } from './crypto/keys.ts'
import { type SignatureCheck, verifySignedCommit } from './signed-commit.ts'
import { checkTreeShape } from './tree-shape.ts'
import { drop, type Verdict } from './verdict.ts'

export interface FullRepoInput {
  readonly did: string
  readonly car: Uint8Array
  readonly key: PublicKey
  readonly now: number
  readonly checkSignature: SignatureCheck
}

export interface FullRepo {
  readonly commit: Commit
  readonly commitCid: string
  readonly commitBlock: Uint8Array
  /** Every MST node and record block of the tree, by CID. */
  readonly tree: Map<string, Uint8Array>
  readonly records: number
}

export function verifyFullRepo(input: FullRepoInput): Verdict<FullRepo> {
  const signed = verifySignedCommit({
    did: input.did,
    blocks: input.car,
    key: input.key,
    now: input.now,
    checkSignature: input.checkSignature,
  })
  if (!signed.ok) return signed
  const { car, commitCid } = signed
  const root = signed.commit.data.$link
  const shape = checkTreeShape(car.blocks, root)
  if (!shape.ok) return drop('bad-car', shape.problem)
  const tree = new Map<string, Uint8Array>()
  let records = 0
  for (const [cid, node] of shape.nodes) {
    tree.set(cid, car.blocks.get(cid)!)
    const links = [node.left, ...node.entries.map((e) => e.right)]
    for (const link of links) {
      if (link !== null && !shape.nodes.has(link.$link)) {
        return drop('bad-car', `MST node ${link.$link} is not in the repo`)
      }
    }
    for (const e of node.entries) {
      const bytes = car.blocks.get(e.value.$link)
      if (!bytes) return drop('bad-car', `record ${e.key} (${e.value.$link}) is not in the repo`)
      tree.set(e.value.$link, bytes)
      records++
    }
  }
  return {
    ok: true,
    warnings: [],
    commit: signed.commit,
    commitCid,
    commitBlock: car.blocks.get(commitCid)!,
    tree,
    records,
  }
}
