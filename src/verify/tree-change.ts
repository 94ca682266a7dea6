// What a proven commit changes in its repo's MST, worked out from what verifying it already
// holds: the new tree's nodes that the commit's CAR slice carries (as the shape check parsed
// them) and the previous tree the inversion rebuilt from them (mst-edit.ts `memoryNodes`). The
// archival mirror applies it as it is, instead of diffing the new tree against its stored one
// (which reads every stored node on the way, on the relay's main thread).
// Why the two node sets suffice: a node of either tree that is not in memory is neither in the
// slice nor read by the inversion, so it sits in a subtree the commit left alone, which both
// trees link by the same CID. Walking each tree through the nodes in memory therefore reaches
// every node on a changed path, and a node reached in one walk but not the other is exactly one
// that joined or left the tree. Records are compared key by key over those nodes, one entry per
// record path, as the mirror counts references.
// Deliberately not here: whether the previous tree is the stored one (the mirror checks its head
// against `previousRoot` and diffs when it is not), and the empty tree (a repo's first or last
// records: callers leave those to the diff). Pure.
import type { CidLink } from '@atcute/cbor'
import type { MemoryNode } from './mst-edit.ts'

export interface TreeChange {
  /** The root the commit's ops invert to (its `prevData`). */
  readonly previousRoot: string
  /** MST nodes that joined the tree (all in the commit's slice). */
  readonly nodesGained: readonly string[]
  /** MST nodes that left it. */
  readonly nodesLost: readonly string[]
  /** Record CIDs gaining a reference, one per path that now holds them. */
  readonly recordsGained: readonly string[]
  /** Record CIDs losing a reference, one per path that no longer holds them. */
  readonly recordsLost: readonly string[]
}

/** Nodes reachable from `root` through `nodes` (a subtree not among them is not entered). */
function reachable(nodes: ReadonlyMap<string, MemoryNode>, root: string): Set<string> {
  const out = new Set<string>()
  const stack = [root]
  while (stack.length > 0) {
    const cid = stack.pop()!
    const node = nodes.get(cid)
    if (node === undefined || out.has(cid)) continue
    out.add(cid)
    for (const sub of node.subs) if (sub !== null) stack.push(sub)
  }
  return out
}

function entriesOf(
  nodes: ReadonlyMap<string, MemoryNode>,
  cids: readonly string[],
): Map<string, CidLink> {
  const out = new Map<string, CidLink>()
  for (const cid of cids) {
    const node = nodes.get(cid)!
    for (let i = 0; i < node.keys.length; i++) out.set(node.keys[i]!, node.values[i]!)
  }
  return out
}

export function treeChange(
  after: { readonly root: string; readonly nodes: ReadonlyMap<string, MemoryNode> },
  before: { readonly root: string; readonly nodes: ReadonlyMap<string, MemoryNode> },
): TreeChange {
  const inAfter = reachable(after.nodes, after.root)
  const inBefore = reachable(before.nodes, before.root)
  const nodesGained = [...inAfter].filter((c) => !inBefore.has(c))
  const nodesLost = [...inBefore].filter((c) => !inAfter.has(c))
  const gained = entriesOf(after.nodes, nodesGained)
  const lost = entriesOf(before.nodes, nodesLost)
  const recordsGained: string[] = []
  const recordsLost: string[] = []
  for (const [key, value] of gained) {
    if (lost.get(key)?.$link !== value.$link) recordsGained.push(value.$link)
  }
  for (const [key, value] of lost) {
    if (gained.get(key)?.$link !== value.$link) recordsLost.push(value.$link)
  }
  return { previousRoot: before.root, nodesGained, nodesLost, recordsGained, recordsLost }
}
