// Test support: a mirror on a fresh archive database, SQLite in a temp directory or (when
// RELAY_TEST_POSTGRES_URL is set) a PostgreSQL database of the test's own; and the head and
// blocks of a test repo's commit as the mirror takes them. Removed when disposed. Never used by
// production code.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { tempPostgres } from '../../test/support/pg-temp.ts'
import type { DbConfig } from '../db/dialect.ts'
import { readCarSlice } from '../protocol/car.ts'
import { parseCommit } from '../protocol/commit.ts'
import type { CommitMessage, SyncMessage } from '../protocol/messages.ts'
import { ArchiveDatabase } from './archive-db.ts'
import { Mirror } from './mirror.ts'
import type { RepoHead } from './repo-change.ts'
import { RepoStore } from './repo-store.ts'

export interface TempArchive extends AsyncDisposable {
  readonly adb: ArchiveDatabase
  readonly store: RepoStore
  readonly mirror: Mirror
  readonly config: DbConfig
}

export async function tempArchive(kind: 'sqlite' | 'postgres'): Promise<TempArchive> {
  let config: DbConfig
  let cleanup: () => Promise<void>
  if (kind === 'sqlite') {
    const dir = await mkdtemp(join(tmpdir(), 'relay-archive-test-'))
    config = { kind: 'sqlite', path: join(dir, 'repos.sqlite') }
    cleanup = () => rm(dir, { recursive: true, force: true })
  } else {
    const pg = await tempPostgres()
    config = { kind: 'postgres', url: pg.url, maxConnections: 4 }
    cleanup = async () => {
      await pg[Symbol.asyncDispose]()
    }
  }
  const adb = await ArchiveDatabase.open(config)
  const store = new RepoStore(adb)
  return {
    adb,
    store,
    mirror: new Mirror(store),
    config,
    async [Symbol.asyncDispose]() {
      await adb.close()
      await cleanup()
    },
  }
}

/** A commit or sync message's head and CAR blocks, as ingest hands them to the mirror. */
export function commitParts(msg: CommitMessage | SyncMessage): {
  head: RepoHead
  blocks: Map<string, Uint8Array>
} {
  const car = readCarSlice(msg.blocks)
  const commitCid = car.roots[0]!
  const commitBlock = car.blocks.get(commitCid)!
  const commit = parseCommit(commitBlock)
  return {
    head: { rev: commit.rev, commitCid, dataCid: commit.data.$link, commitBlock },
    blocks: new Map(car.blocks),
  }
}
