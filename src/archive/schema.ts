// The archive's tables as Kysely sees them (archival mode's mirror of every repo). Kept apart from
// the relay's state tables: on SQLite they live in their own file (so mirror writes never queue
// behind the relay's checkpoints), on PostgreSQL in the relay's database with blocks partitioned
// by repo (migrations.ts).
// - `repo`: one row per mirrored account: its head (rev, commit CID, MST root) and the signed
//   commit block itself, so exports and proofs need no second read.
// - `repo_block`: every MST node and record block of a repo's current tree, keyed by the repo
//   and the CID's binary form; `refs` counts the record paths that hold a record block (two paths
//   may hold identical records), always 1 for MST nodes; `rev` is the revision that added the
//   block (what `getRepo?since=` filters on).
// Deliberately not here: how a commit becomes block changes (mirror-change.ts), SQL (repo-store.ts).
import type { Generated } from 'kysely'

export interface RepoTable {
  id: Generated<number>
  did: string
  rev: string
  commit_cid: string
  data_cid: string
  commit_block: Uint8Array
  updated_at: string
}

export interface RepoBlockTable {
  repo_id: number
  cid: Uint8Array
  rev: string
  refs: number
  data: Uint8Array
}

export interface ArchiveSchema {
  repo: RepoTable
  repo_block: RepoBlockTable
}
