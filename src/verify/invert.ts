// MST inversion for sync 1.1 commits (sync spec, "Commit Validation"): given the blocks of a
// commit's CAR slice, the new MST root (`commit.data`) and the commit's ops, check that the tree
// has a valid shape (tree-shape.ts) and that every op is true of it (a created or updated path
// holds the op's CID; a deleted path is absent), then undo every op in the tree (mst-edit.ts) and
// return the root that results. The caller compares it with the message's `prevData`. Because an
// MST's shape depends only on its contents, the ops may be undone in any order. Inversion fails
// with a stated problem on: an op on the same path twice, a path that is not a valid MST key, a
// malformed tree or node, an MST block needed but missing from the slice (named by CID) or not
// canonical DAG-CBOR, an op not true of the tree, an update/delete without `prev`, and an op
// whose undoing changes nothing.
// Each node is decoded once (by the shape check) and each op key's height computed at most once
// (a key found in the tree has the height of its node). Synchronous.
// With `withChange` (archival mode) it also works out what the ops changed in the tree, for the
// mirror (tree-change.ts).
// Deliberately not done here: comparing with `prevData` or stored state (the caller decides what
// a mismatch means), and the signature. Pure: works on the given blocks only; never throws.
import type { RepoOp } from '../protocol/messages.ts'
import { isValidMstKey, mstKeyHeight } from '../protocol/mst.ts'
import { EMPTY_MST_ROOT, type MemoryNode, MstEditor, memoryNodeOf } from './mst-edit.ts'
import { type TreeChange, treeChange } from './tree-change.ts'
import { checkTreeShape } from './tree-shape.ts'

export type { RepoOp }
export { EMPTY_MST_ROOT }

export type InversionResult =
  | {
      readonly ok: true
      readonly previousRoot: string
      /** With `withChange`, when neither tree is empty: what the ops changed (tree-change.ts). */
      readonly change?: TreeChange
    }
  | { readonly ok: false; readonly problem: string }

const fail = (problem: string): InversionResult => ({ ok: false, problem })

/** Undoes `ops` on the tree rooted at `root` (see the header comment). Never throws. */
export function invertOps(
  blocks: ReadonlyMap<string, Uint8Array>,
  root: string,
  ops: readonly RepoOp[],
  withChange = false,
): InversionResult {
  const seen = new Set<string>()
  for (const op of ops) {
    if (seen.has(op.path)) return fail(`two ops on ${op.path}`)
    seen.add(op.path)
  }
  try {
    const shape = checkTreeShape(blocks, root)
    if (!shape.ok) return shape
    for (const op of ops) {
      if (!isValidMstKey(op.path)) return fail(`${op.action} ${op.path}: not a valid MST key`)
    }
    const tree = new MstEditor(blocks, shape.nodes, root)
    // Forward: every op is true of the new tree. A found key's height is its node's.
    const heights: number[] = []
    for (const op of ops) {
      const found = tree.lookup(op.path)
      if (op.action === 'delete') {
        if (found !== null) return fail(`deleted ${op.path} is still in the tree`)
        heights.push(-1)
      } else if (found === null || op.cid === null || found.value.$link !== op.cid.$link) {
        return fail(`${op.action} ${op.path}: the tree does not hold the op's CID`)
      } else {
        heights.push(found.height)
      }
    }
    // Backward: undo each op.
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i]!
      let changed: boolean
      if (op.action === 'create') {
        changed = tree.delete(op.path, heights[i]!)
      } else {
        if (!op.prev) return fail(`${op.action} ${op.path} has no prev`)
        const height = op.action === 'delete' ? mstKeyHeight(op.path) : heights[i]!
        changed = tree.put(op.path, op.prev, height)
      }
      if (!changed) return fail(`${op.action} ${op.path} changes nothing`)
    }
    const previousRoot = tree.rootCid()
    if (!withChange || root === EMPTY_MST_ROOT || previousRoot === EMPTY_MST_ROOT)
      return { ok: true, previousRoot }
    const after = new Map<string, MemoryNode>()
    for (const [cid, node] of shape.nodes) after.set(cid, memoryNodeOf(node))
    const change = treeChange(
      { root, nodes: after },
      { root: previousRoot, nodes: tree.memoryNodes() },
    )
    return { ok: true, previousRoot, change }
  } catch (err) {
    return fail(err instanceof Error ? err.message : String(err))
  }
}
