// What one write to a mirrored repo changes, as the repo store applies it in one transaction:
// the new head, the MST nodes that joined and left the tree, and the record blocks whose
// references came and went (one entry per record path, so a record block two paths share is
// kept until neither holds it). Shared by the part that works a change out (mirror-change.ts)
// and the store's ways of writing it (repo-store.ts, pg-apply.ts, sqlite-apply.ts): the types,
// the stored form of a CID, and the count of references per record block.
import * as CID from '@atcute/cid'

/** A CID as stored: its binary form (36 bytes, not 59 characters). */
export const cidToBytes = (cid: string): Uint8Array => CID.fromString(cid).bytes
export const cidFromBytes = (bytes: Uint8Array): string => CID.toString(CID.decode(bytes))

/** A mirrored repo's head: the signed commit, its rev and the MST root it signs. */
export interface RepoHead {
  readonly rev: string
  readonly commitCid: string
  readonly dataCid: string
  /** The signed commit block. */
  readonly commitBlock: Uint8Array
}

export interface RepoChange {
  readonly head: RepoHead
  /** MST nodes that joined the tree, by CID string. */
  readonly addNodes: ReadonlyMap<string, Uint8Array>
  /** MST nodes that left it. */
  readonly removeNodes: readonly string[]
  /** Record blocks gaining a reference: one entry per record path that now holds it. */
  readonly addRecords: readonly (readonly [cid: string, bytes: Uint8Array])[]
  /** Record blocks losing a reference: one entry per record path that no longer holds it. */
  readonly removeRecords: readonly string[]
}

/** The stored head a change was worked out from: it is written only over that head. */
export interface HeadCheck {
  readonly id: number
  readonly commitCid: string
}

/**
 * A change's record references counted per block: how many paths gained each block (with its
 * bytes) and how many lost it. A block both gained and lost appears in both.
 */
export function recordCounts(change: RepoChange): {
  gained: Map<string, { n: number; data: Uint8Array }>
  lost: Map<string, number>
} {
  const gained = new Map<string, { n: number; data: Uint8Array }>()
  for (const [cid, data] of change.addRecords) {
    const g = gained.get(cid)
    if (g) g.n++
    else gained.set(cid, { n: 1, data })
  }
  const lost = new Map<string, number>()
  for (const cid of change.removeRecords) lost.set(cid, (lost.get(cid) ?? 0) + 1)
  return { gained, lost }
}
