// The shape of the part of an MST that a commit's CAR slice carries (repository spec, "Merkle
// Search Tree"): starting at the root, every node present in the slice must be a valid MST node
// (protocol/mst.ts: key order, exact prefix compression, uniform key height) whose keys lie
// within the bounds its parent implies and whose height is exactly one less than its parent's;
// height-0 nodes have no subtrees; a node without entries is either an empty tree's root or an
// intermediate level that points down; the root is trimmed (no entry-less root with a subtree). Nodes not
// in the slice are subtrees the commit did not touch; they are never read, so not checked.
// Without this, a malformed tree (a key stored at the wrong depth) can make an op look true in a
// lookup yet leave the tree unchanged when undone, so a PDS could claim ops it never made.
// Pure; returns a problem string or null.
import { MstNodeError, parseMstNode } from '../protocol/mst.ts'

interface Visit {
  readonly cid: string
  readonly after: string | undefined
  readonly before: string | undefined
  readonly height: number | undefined
}

export function checkTreeShape(
  blocks: ReadonlyMap<string, Uint8Array>,
  root: string,
): string | null {
  if (!blocks.has(root)) return `MST root ${root} is not in the CAR`
  const stack: Visit[] = [{ cid: root, after: undefined, before: undefined, height: undefined }]
  // Each node is reached from one parent; a DAG that shares nodes could multiply the work, so
  // bound it by the slice size.
  let budget = blocks.size * 2 + 16
  while (stack.length > 0) {
    const visit = stack.pop()!
    const bytes = blocks.get(visit.cid)
    if (bytes === undefined) continue
    if (--budget < 0) return 'MST nodes are referenced more than once'
    let node: ReturnType<typeof parseMstNode>
    try {
      node = parseMstNode(bytes, { after: visit.after, before: visit.before, height: visit.height })
    } catch (err) {
      if (err instanceof MstNodeError) return `MST node ${visit.cid}: ${err.message}`
      throw err
    }
    const isRoot = visit.height === undefined
    if (node.entries.length === 0) {
      // An empty tree's root has nothing at all; a node without entries below the root is an
      // intermediate level that only points down (its height is its parent's minus one).
      if (isRoot) {
        if (node.left !== null)
          return `MST root ${visit.cid} has no entries but a subtree (not trimmed)`
        continue
      }
      if (node.left === null) return `MST node ${visit.cid} is empty`
    }
    const height = node.height ?? visit.height!
    const children: Visit[] = []
    const childHeight = height - 1
    if (node.left)
      children.push({
        cid: node.left.$link,
        after: visit.after,
        before: node.entries[0]?.key ?? visit.before,
        height: childHeight,
      })
    node.entries.forEach((e, i) => {
      if (e.right) {
        children.push({
          cid: e.right.$link,
          after: e.key,
          before: node.entries[i + 1]?.key ?? visit.before,
          height: childHeight,
        })
      }
    })
    if (children.length > 0 && height === 0)
      return `MST node ${visit.cid} has height 0 but subtrees`
    stack.push(...children)
  }
  return null
}
