// How a new repo state changes the mirrored one: given the stored tree's root, the new commit
// and the blocks that came with it (a commit's CAR slice, or a whole repo), the MST nodes that
// join and leave the tree and the record references gained and lost, found by diffing the two
// trees (@atcute/mst's `mstDiff`, which only descends where subtrees differ, then `recordDiff`
// over the changed nodes). Records are taken from the tree diff, not from a commit's op list, so
// a commit whose ops are incomplete still leaves the mirror equal to the tree it signs.
// Answers `missing` when the new tree needs a block that is neither in hand nor stored: the
// mirror cannot follow this commit (it is behind, or the slice lacks a block), so the account
// must be resynchronized.
// A proven commit needs no diff: its verification already worked the change out from the slice
// and the previous tree it rebuilt (verify/tree-change.ts). `changeFrom` takes that change when
// the stored tree is the one the commit starts from; the diff stays for everything else (a
// lenient host's unproven commits, imports, a mirror that is behind).
// Deliberately not here: checking the commit (verify/ did, before this runs), writing
// (repo-store.ts), and what a missing block means for the account (mirror.ts).
import { MissingBlockError, mstDiff, NodeStore, recordDiff } from '@atcute/mst'
import { EMPTY_MST_ROOT } from '../verify/mst-edit.ts'
import type { TreeChange } from '../verify/tree-change.ts'
import { BlockSource, type StoredBlocks } from './block-source.ts'
import type { RepoChange, RepoHead } from './repo-change.ts'

export type MirrorChange =
  | { readonly ok: true; readonly change: RepoChange }
  | { readonly ok: false; readonly missing: string }

/**
 * A proven commit's change (worked out by its verification, tree-change.ts) as the store writes
 * it, when the stored tree is the one the commit starts from; null otherwise, or when a block the
 * change adds is not in hand (the diff then decides).
 */
export function changeFrom(
  head: RepoHead,
  blocks: ReadonlyMap<string, Uint8Array>,
  storedRoot: string,
  proven: TreeChange,
): RepoChange | null {
  if (proven.previousRoot !== storedRoot) return null
  const addNodes = new Map<string, Uint8Array>()
  for (const cid of proven.nodesGained) {
    const bytes = blocks.get(cid)
    if (!bytes) return null
    addNodes.set(cid, bytes)
  }
  const addRecords: [string, Uint8Array][] = []
  for (const cid of proven.recordsGained) {
    const bytes = blocks.get(cid)
    if (!bytes) return null
    addRecords.push([cid, bytes])
  }
  return {
    head,
    addNodes,
    removeNodes: proven.nodesLost,
    addRecords,
    removeRecords: proven.recordsLost,
  }
}

export async function mirrorChange(input: {
  /** The stored tree's root; null when the repo is not mirrored yet (an empty tree). */
  readonly previousRoot: string | null
  readonly head: RepoHead
  readonly blocks: ReadonlyMap<string, Uint8Array>
  readonly stored: StoredBlocks
}): Promise<MirrorChange> {
  const source = new BlockSource(input.blocks, input.stored)
  const nodes = new NodeStore(source)
  const before = input.previousRoot ?? EMPTY_MST_ROOT
  const after = input.head.dataCid
  try {
    const [created, deleted] =
      before === after
        ? [new Set<string>(), new Set<string>()]
        : await mstDiff(nodes, before, after)
    const addNodes = new Map<string, Uint8Array>()
    for (const cid of created) {
      const bytes = await source.get(cid)
      if (!bytes) return { ok: false, missing: cid }
      addNodes.set(cid, bytes)
    }
    // The empty tree's node is never stored for a repo that had no tree.
    const removeNodes = [...deleted].filter(
      (c) => !(c === EMPTY_MST_ROOT && input.previousRoot === null),
    )
    const addRecords: [string, Uint8Array][] = []
    const removeRecords: string[] = []
    for await (const d of recordDiff(nodes, created, deleted)) {
      if (d.priorValue) removeRecords.push(d.priorValue.$link)
      if (d.laterValue) {
        const cid = d.laterValue.$link
        const bytes = await source.get(cid)
        if (!bytes) return { ok: false, missing: cid }
        addRecords.push([cid, bytes])
      }
    }
    return {
      ok: true,
      change: { head: input.head, addNodes, removeNodes, addRecords, removeRecords },
    }
  } catch (err) {
    if (err instanceof MissingBlockError) return { ok: false, missing: err.cid }
    throw err
  }
}
