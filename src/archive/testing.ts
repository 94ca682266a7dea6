// Test support: a mirror on a fresh archive database, SQLite in a temp directory or (when
// RELAY_TEST_POSTGRES_URL is set) a PostgreSQL database of the test's own; and the head and
// blocks of a test repo's commit as the mirror takes them (removed when disposed); and a model
// of a repo's blocks that makes random changes, for comparing the store's ways of writing them.
// Never used by production code.
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as CID from '@atcute/cid'
import { sql } from 'kysely'
import { tempPostgres } from '../../test/support/pg-temp.ts'
import type { DbConfig } from '../db/dialect.ts'
import { readCarSlice } from '../protocol/car.ts'
import { parseCommit } from '../protocol/commit.ts'
import type { CommitMessage, SyncMessage } from '../protocol/messages.ts'
import { ArchiveDatabase } from './archive-db.ts'
import { Mirror } from './mirror.ts'
import type { RepoChange, RepoHead } from './repo-change.ts'
import { cidFromBytes, RepoStore } from './repo-store.ts'

export interface TempArchive extends AsyncDisposable {
  readonly adb: ArchiveDatabase
  readonly store: RepoStore
  readonly mirror: Mirror
  readonly config: DbConfig
}

export async function tempArchive(
  kind: 'sqlite' | 'postgres',
  options: { writerThread?: boolean } = {},
): Promise<TempArchive> {
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
  const adb = await ArchiveDatabase.open(config, undefined, options)
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

/** A deterministic generator, so a failure names a step that can be replayed. */
export function random(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0
    return s / 2 ** 32
  }
}

/** `n` distinct blocks whose bytes read `${prefix}-${i}`, with their CIDs. */
export async function testBlocks(prefix: string, n: number): Promise<[string, Uint8Array][]> {
  const out: [string, Uint8Array][] = []
  for (let i = 0; i < n; i++) {
    const data = new TextEncoder().encode(`${prefix}-${i}`)
    out.push([CID.toString(await CID.create(0x71, data)), data])
  }
  return out
}

/** A repo's stored head and every block row of it, in CID order, bytes as text. */
export async function blockRows(a: { adb: ArchiveDatabase; store: RepoStore }, did: string) {
  const r = await sql<{ cid: Uint8Array; refs: number; rev: string; data: Uint8Array }>`
    select b.cid, b.refs, b.rev, b.data from repo_block b join repo r on r.id = b.repo_id
    where r.did = ${did} order by b.cid`.execute(a.adb.db)
  const head = await a.store.head(did)
  return {
    head: head && { rev: head.rev, commitCid: head.commitCid, dataCid: head.dataCid },
    blocks: r.rows.map((b) => ({
      cid: cidFromBytes(b.cid),
      refs: b.refs,
      rev: b.rev,
      data: Buffer.from(b.data).toString(),
    })),
  }
}

/**
 * One repo as the store should hold it (its nodes, and each record block's references), and
 * random changes to it: nodes added and dropped, record blocks shared between paths, gained and
 * lost in one change. Blocks come from pools of `testBlocks` named `node…` and `record…`.
 */
export class RepoModel {
  readonly nodes = new Set<string>()
  readonly refs = new Map<string, number>()

  /** A random change from the model's current state; the model then holds its result. */
  change(
    next: () => number,
    pools: {
      nodes: readonly [string, Uint8Array][]
      records: readonly [string, Uint8Array][]
      commit: readonly [string, Uint8Array]
    },
    rev: string,
  ): RepoChange {
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!
    const addNodes = new Map<string, Uint8Array>()
    for (let i = Math.floor(next() * 4); i > 0; i--) {
      const [cid, data] = pick(pools.nodes)
      if (!this.nodes.has(cid)) addNodes.set(cid, data)
    }
    const removeNodes = [...this.nodes].filter(() => next() < 0.15).filter((c) => !addNodes.has(c))
    const addRecords: [string, Uint8Array][] = []
    for (let i = Math.floor(next() * 4); i > 0; i--) addRecords.push(pick(pools.records))
    const removeRecords: string[] = []
    for (const [cid, n] of this.refs)
      for (let k = 0; k < n; k++) if (next() < 0.2) removeRecords.push(cid)
    const [commitCid, commitBlock] = pools.commit
    for (const c of addNodes.keys()) this.nodes.add(c)
    for (const c of removeNodes) this.nodes.delete(c)
    for (const [c] of addRecords) this.refs.set(c, (this.refs.get(c) ?? 0) + 1)
    for (const c of removeRecords) this.refs.set(c, this.refs.get(c)! - 1)
    for (const [c, n] of this.refs) if (n <= 0) this.refs.delete(c)
    return {
      head: { rev, commitCid, dataCid: pick(pools.nodes)[0], commitBlock },
      addNodes,
      removeNodes,
      addRecords,
      removeRecords,
    }
  }

  /** Fails unless the stored rows hold exactly the model's nodes and record references. */
  check(stored: Awaited<ReturnType<typeof blockRows>>, message: string): void {
    const refs = new Map(
      stored.blocks.filter((b) => b.data.startsWith('record')).map((b) => [b.cid, b.refs]),
    )
    assert.deepEqual(refs, this.refs, `${message}: record references`)
    const nodes = new Set(stored.blocks.filter((b) => b.data.startsWith('node')).map((b) => b.cid))
    assert.deepEqual(nodes, this.nodes, `${message}: nodes`)
  }
}

/**
 * Random changes to `repos` repos, `steps` times: each step's changes written through `tested`
 * in one turn (so a store that groups them groups them), mostly over the stored head, and one at
 * a time through the chunked transaction of `reference`. After each step both archives hold the
 * same rows, and the nodes and record references the models expect.
 */
export async function writeAlongsideChunked(p: {
  tested: TempArchive
  reference: TempArchive
  seed: number
  repos: number
  steps: number
}): Promise<void> {
  const now = () => 1_796_000_000_000
  const fast = new RepoStore(p.tested.adb, now)
  const slow = new RepoStore(p.reference.adb, now, { fastPath: false })
  const pools = {
    nodes: await testBlocks('node', 40),
    records: await testBlocks('record', 25),
    commit: (await testBlocks('commit', 1))[0]!,
  }
  const next = random(p.seed)
  const dids = Array.from({ length: p.repos }, (_, i) => `did:plc:repo${i}`)
  const model = new Map(dids.map((d) => [d, new RepoModel()]))
  for (let step = 0; step < p.steps; step++) {
    const rev = `3l${String(1000 + step)}aaaaaaa`
    const changes = dids.map((did) => [did, model.get(did)!.change(next, pools, rev)] as const)
    // As the mirror writes commits (the stored head known), sometimes without the head.
    const heads = await Promise.all(dids.map((d) => fast.head(d)))
    const written = await Promise.all(
      changes.map(([did, change], i) =>
        fast.apply(did, change, next() < 0.7 ? heads[i] : undefined),
      ),
    )
    assert.ok(
      written.every((w) => w),
      `step ${step}: every change written`,
    )
    for (const [did, change] of changes) await slow.apply(did, change)
    for (const did of dids) {
      const got = await blockRows(p.tested, did)
      assert.deepEqual(got, await blockRows(p.reference, did), `step ${step}: ${did}`)
      model.get(did)!.check(got, `step ${step}: ${did}`)
    }
  }
}
