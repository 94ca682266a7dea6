// The MST nodes a record proof must carry: the walk a verifier makes from the root to where a
// key is or would be. At each node, the first key at or after the one sought: equal, and the
// record is found; otherwise the walk goes down the subtree just left of it (or the rightmost
// subtree when every key is smaller), and the record is absent when there is none. This is the
// walk the reference implementation's verifier makes, so a proof of absence also carries every
// subtree it will open, even one whose keys a smarter walk could rule out without reading it.
// Deliberately not here: reading blocks (the caller's `node` lookup) and the CAR.
import type { MSTNode } from '@atcute/mst'

export async function recordPath(
  node: (cid: string) => Promise<MSTNode>,
  root: string,
  key: string,
): Promise<{ value: string | null; nodes: string[] }> {
  const nodes: string[] = []
  let cid: string | null = root
  while (cid !== null) {
    nodes.push(cid)
    const n = await node(cid)
    let i = 0
    while (i < n.keys.length && n.keys[i]! < key) i++
    if (i < n.keys.length && n.keys[i] === key) return { value: n.values[i]!.$link, nodes }
    cid = n.subtrees[i]?.$link ?? null
  }
  return { value: null, nodes }
}
