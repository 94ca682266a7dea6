// The shape of the part of an MST that a commit's CAR slice carries (repository spec, "Merkle
// Search Tree"): starting at the root, every node present in the slice must be a valid MST node
// (protocol/mst.ts: key order, exact prefix compression, uniform key height) whose keys lie
// within the bounds its parent implies and whose height is exactly one less than its parent's;
// height-0 nodes have no subtrees; a node without entries is either an empty tree's root or an
// intermediate level that points down; the root is trimmed (no entry-less root with a subtree).
// Nodes not in the slice are subtrees the commit did not touch; they are never read, so not
// checked. Without this, a malformed tree (a key stored at the wrong depth) can make an op look
// true in a lookup yet leave the tree unchanged when undone, so a PDS could claim ops it never made.
// The nodes parsed on the way are handed back, so the inversion never decodes a node twice; links
// to subtrees outside the slice are recognised without making their CID strings (slice-links.ts).
// Deliberately not checked here: canonical DAG-CBOR of the node blocks (the inversion checks the
// nodes it reads), and anything about ops. Pure; never throws for bad input.
import { type MstNode, MstNodeError, parseMstNode } from '../protocol/mst.ts'
import { SliceLinks } from './slice-links.ts'

interface Visit {
  readonly cid: string
  readonly after: string | undefined
  readonly before: string | undefined
  readonly height: number | undefined
}

export type TreeShape =
  /** Every node of the slice reachable from the root, by CID. */
  | { readonly ok: true; readonly nodes: ReadonlyMap<string, MstNode> }
  | { readonly ok: false; readonly problem: string }

const fail = (problem: string): TreeShape => ({ ok: false, problem })

export function checkTreeShape(blocks: ReadonlyMap<string, Uint8Array>, root: string): TreeShape {
  if (!blocks.has(root)) return fail(`MST root ${root} is not in the CAR`)
  const nodes = new Map<string, MstNode>()
  const links = new SliceLinks(blocks)
  const stack: Visit[] = [{ cid: root, after: undefined, before: undefined, height: undefined }]
  // Each node is reached from one parent; a DAG that shares nodes could multiply the work, so
  // bound it by the slice size.
  let budget = blocks.size * 2 + 16
  while (stack.length > 0) {
    const visit = stack.pop()!
    const bytes = blocks.get(visit.cid)!
    if (--budget < 0) return fail('MST nodes are referenced more than once')
    let node: MstNode
    try {
      // A node reached twice is parsed again, against the bounds of its second place.
      node = parseMstNode(bytes, visit)
    } catch (err) {
      if (err instanceof MstNodeError) return fail(`MST node ${visit.cid}: ${err.message}`)
      throw err
    }
    if (!nodes.has(visit.cid)) nodes.set(visit.cid, node)
    const isRoot = visit.height === undefined
    const entries = node.entries
    if (entries.length === 0) {
      // An empty tree's root has nothing at all; a node without entries below the root is an
      // intermediate level that only points down (its height is its parent's minus one).
      if (isRoot) {
        if (node.left !== null)
          return fail(`MST root ${visit.cid} has no entries but a subtree (not trimmed)`)
        continue
      }
      if (node.left === null) return fail(`MST node ${visit.cid} is empty`)
    }
    const height = node.height ?? visit.height!
    const childHeight = height - 1
    // Subtrees not in the slice are not visited.
    let subtrees = node.left !== null
    const left = node.left && links.find(node.left)
    if (left)
      stack.push({
        cid: left,
        after: visit.after,
        before: entries[0]?.key ?? visit.before,
        height: childHeight,
      })
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!
      if (e.right === null) continue
      subtrees = true
      const right = links.find(e.right)
      if (right)
        stack.push({
          cid: right,
          after: e.key,
          before: entries[i + 1]?.key ?? visit.before,
          height: childHeight,
        })
    }
    if (subtrees && height === 0) return fail(`MST node ${visit.cid} has height 0 but subtrees`)
  }
  return { ok: true, nodes }
}
