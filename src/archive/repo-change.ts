// What one write to a mirrored repo changes, as the repo store applies it in one transaction:
// the new head, the MST nodes that joined and left the tree, and the record blocks whose
// references came and went (one entry per record path, so a record block two paths share is
// kept until neither holds it). Types only, shared by the part that works a change out
// (mirror-change.ts) and the store that writes it (repo-store.ts).

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
