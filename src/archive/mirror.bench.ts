// Archival mode's mirror on its real databases: what a repo costs on disk, how fast commits are
// applied, and whether a write-heavy account stays bounded. One repo of RECORDS small post records
// (TID keys, texts of 10–200 characters, as real accounts have) is built with the tests' signed
// repo (real MST, real k256 commits), exported as a CAR and imported with `Mirror.importRepo`.
// Then two streams made beforehand (signing is not what is measured) are applied with
// `Mirror.applyCommit`, as ingest does after verification (with the tree change verification
// works out for a proven commit; MIRROR_BENCH_DIFF=1 leaves it out, so every commit is diffed): MIXED single-record creates, updates
// and deletes in turn, then UPDATES edits that cycle over the same HOT records (write-heavy), with
// sizes read after 1k, 5k and 10k of them; the same edits once more on a fresh import, compacting
// (`Compactor.compactOne`) at each of those points. SQLite always (a temp file; its size on disk
// is the main file plus the WAL); PostgreSQL too when RELAY_TEST_POSTGRES_URL is set (a database
// of the bench's own, dropped at the end). Where the bytes go is read from SQLite's dbstat table
// and PostgreSQL's relation sizes.
import { stat } from 'node:fs/promises'
import { performance } from 'node:perf_hooks'
import { NodeStore } from '@atcute/mst'
import { sql } from 'kysely'
import { note } from '../../bench/harness.ts'
import { keypairFromSeed } from '../../test/support/keypair.ts'
import { PG_URL } from '../../test/support/pg-temp.ts'
import { TestRepo, type Write } from '../../test/support/test-repo.ts'
import { readCarSlice } from '../protocol/car.ts'
import { createTid } from '../protocol/syntax/tid.ts'
import { invertOps } from '../verify/invert.ts'
import type { TreeChange } from '../verify/tree-change.ts'
import { Compactor } from './compaction.ts'
import type { RepoHead } from './repo-change.ts'
import { commitParts, type TempArchive, tempArchive } from './testing.ts'

const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback)
const RECORDS = env('MIRROR_BENCH_RECORDS', 10_000)
const MIXED = env('MIRROR_BENCH_MIXED', 3_000)
const UPDATES = env('MIRROR_BENCH_UPDATES', 10_000)
const HOT = 100
/** MIRROR_BENCH_DIFF=1: apply without the verified change, diffing every commit (as before). */
const DIFF = process.env.MIRROR_BENCH_DIFF === '1'
const MARKS = [1_000, 5_000, 10_000].filter((m) => m <= UPDATES)
const DID = 'did:plc:mirrorbenchaaaaaaaaaaaaa'

interface Parts {
  readonly action: Write['action']
  readonly head: RepoHead
  readonly blocks: Map<string, Uint8Array>
  /** The change its verification works out (a proven commit), as ingest hands it over. */
  readonly change: TreeChange | undefined
}

// A seeded generator, so every run stores the same records and tree (sizes are comparable).
let seed = 0x5eed
const rand = () => {
  seed = (seed * 1_103_515_245 + 12_345) >>> 0
  return seed / 2 ** 32
}
const WORDS = 'the a relay post today just new some time good people this what know like see'.split(
  ' ',
)
let clock = Date.parse('2024-01-01T00:00:00Z')
/** A realistic small post: TID key a few minutes to hours after the last, text of 10–200 chars. */
function newPost(): { path: string; record: Record<string, unknown> } {
  clock += Math.floor(60_000 + rand() * 3 * 3_600_000)
  const len = 10 + Math.floor(rand() * 190)
  let text = ''
  while (text.length < len) text += `${WORDS[Math.floor(rand() * WORDS.length)]} `
  const record = {
    $type: 'app.bsky.feed.post',
    text: text.slice(0, len).trim(),
    langs: ['en'],
    createdAt: new Date(clock).toISOString(),
  }
  return { path: `app.bsky.feed.post/${createTid(clock * 1000, 7)}`, record }
}

const kb = (n: number) => `${(n / 1024).toFixed(0)} KiB`
const mib = (n: number) => `${(n / 1024 ** 2).toFixed(2)} MiB`

/** The repo's tree split into MST nodes and record blocks (count and bytes of each). */
async function treeSizes(repo: TestRepo) {
  const ns = new NodeStore(repo.store)
  const out = { nodes: 0, nodeBytes: 0, records: 0, recordBytes: 0 }
  const visit = async (cid: string): Promise<void> => {
    out.nodes++
    out.nodeBytes += repo.store.blocks.get(cid)!.length
    const node = await ns.get(cid)
    for (const v of node.values) {
      out.records++
      out.recordBytes += repo.store.blocks.get(v.$link)!.length
    }
    for (const s of node.subtrees) if (s) await visit(s.$link)
  }
  await visit(repo.root!)
  return out
}

/** Bytes the archive takes: what storageBytes says, and on SQLite the files themselves. */
async function size(a: TempArchive): Promise<string> {
  const s = await a.adb.storageBytes()
  if (a.config.kind !== 'sqlite') return `${mib(s.total)} (storageBytes)`
  const file = async (p: string) => (await stat(p).catch(() => ({ size: 0 }))).size
  const main = await file(a.config.path)
  const wal = await file(`${a.config.path}-wal`)
  return `${mib(s.total)} (${mib(s.free)} free); file ${mib(main)} + WAL ${mib(wal)}`
}

/**
 * Where the bytes of the blocks table go. SQLite (dbstat): its b-tree pages, the row payload in
 * them (block data plus key and columns) and the slack; PostgreSQL: the partition holding the
 * repo (heap, free-space and visibility maps, primary key, TOAST, dead rows not yet vacuumed).
 */
async function breakdown(a: TempArchive): Promise<string> {
  if (a.config.kind === 'sqlite') {
    const r = await sql<{ pages: number; payload: number; unused: number; n: number }>`
      select sum(pgsize) as pages, sum(payload) as payload, sum(unused) as unused,
        sum(pagetype = 'internal') as n
      from dbstat where name = 'repo_block'`.execute(a.adb.db)
    const t = r.rows[0]!
    return `repo_block b-tree ${kb(t.pages)}: row payload ${kb(t.payload)}, unused ${kb(t.unused)}, ${t.n} interior pages`
  }
  const r = await sql<Record<'heap' | 'maps' | 'idx' | 'toast' | 'dead', string>>`
    select pg_relation_size(c.oid) as heap,
      pg_relation_size(c.oid, 'fsm') + pg_relation_size(c.oid, 'vm') as maps,
      pg_indexes_size(c.oid) as idx, coalesce(pg_total_relation_size(c.reltoastrelid), 0) as toast,
      coalesce(s.n_dead_tup, 0) as dead
    from pg_class c left join pg_stat_user_tables s on s.relid = c.oid
    where c.relname like 'repo_block_p%' and c.relkind = 'r'
    order by pg_relation_size(c.oid) desc limit 1`.execute(a.adb.db)
  const p = Object.fromEntries(Object.entries(r.rows[0]!).map(([k, v]) => [k, Number(v)]))
  const rest = (await a.adb.storageBytes()).total - p.heap! - p.maps! - p.idx! - p.toast!
  return (
    `the repo's partition: heap ${kb(p.heap!)} (${p.dead} dead rows), maps ${kb(p.maps!)}, ` +
    `primary key ${kb(p.idx!)}, TOAST ${kb(p.toast!)}; 15 empty partitions and repo ${kb(rest)}`
  )
}

/** Applies a stream, timing each commit; a commit the mirror refuses stops the bench. */
async function apply(a: TempArchive, stream: readonly Parts[], label: string, marks = false) {
  const times: Record<string, number[]> = { create: [], update: [], delete: [] }
  // Stored blocks the tree diff reads (each a query of its own): most of a commit's time.
  let reads = 0
  const blocks = a.store.blocks
  a.store.blocks = (did, cids) => {
    reads += cids.length
    return blocks.call(a.store, did, cids)
  }
  const t0 = performance.now()
  for (let i = 0; i < stream.length; i++) {
    const c = stream[i]!
    const t = performance.now()
    const out = await a.mirror.applyCommit(DID, c.head, c.blocks, c.change)
    times[c.action]!.push(performance.now() - t)
    if (!out.ok || !out.applied) throw new Error(`commit ${i} not applied: ${JSON.stringify(out)}`)
    if (marks && MARKS.includes(i + 1)) note(`  after ${i + 1} updates: ${await size(a)}`)
  }
  const s = (performance.now() - t0) / 1000
  a.store.blocks = blocks
  const median = (xs: number[]) => xs.sort((x, y) => x - y)[xs.length >> 1] ?? 0
  const per = Object.entries(times)
    .filter(([, xs]) => xs.length > 0)
    .map(([k, xs]) => `${k} ${(median(xs) * 1000).toFixed(0)}`)
  note(
    `${label}: ${stream.length} commits, ${Math.round(stream.length / s)} commits/s ` +
      `(median µs: ${per.join(', ')}; ` +
      `${(reads / stream.length).toFixed(1)} stored blocks read per commit)`,
  )
}

/**
 * A stream of one-write commits made on the repo (it moves along), as the mirror takes them.
 * The test repo keeps every block it ever made and scans them all on each commit, so making 20k
 * commits took 19 minutes; dropping what its tree no longer reaches keeps that linear.
 */
async function stream(repo: TestRepo, n: number, write: (i: number) => Write): Promise<Parts[]> {
  const out: Parts[] = []
  for (let i = 0; i < n; i++) {
    const w = write(i)
    const msg = await repo.commit([w])
    const parts = commitParts(msg)
    const inversion = invertOps(parts.blocks, parts.head.dataCid, msg.ops, true)
    const change = inversion.ok && !DIFF ? inversion.change : undefined
    out.push({ action: w.action, ...parts, change })
    if (i % 200 === 199) {
      const tree = await repo.exportBlocks()
      for (const cid of repo.store.blocks.keys()) if (!tree.has(cid)) repo.store.blocks.delete(cid)
    }
  }
  return out
}

// --- the load, made once ---
const made = performance.now()
const repo = new TestRepo(DID, keypairFromSeed('k256', new Uint8Array([1])))
const live: string[] = []
for (let n = 0; n < RECORDS; n += 500) {
  const batch = Array.from({ length: Math.min(500, RECORDS - n) }, newPost)
  for (const p of batch) live.push(p.path)
  await repo.commit(batch.map((p) => ({ action: 'create', ...p })))
}
const car0 = await repo.exportCar()
const tree = await treeSizes(repo)
const mixed = await stream(repo, MIXED, (i) => {
  if (i % 3 === 0) {
    const p = newPost()
    live.push(p.path)
    return { action: 'create', ...p }
  }
  const at = Math.floor(rand() * live.length)
  if (i % 3 === 1) return { action: 'update', path: live[at]!, record: newPost().record }
  const [path] = live.splice(at, 1)
  return { action: 'delete', path: path! }
})
const car1 = await repo.exportCar()
const hot = Array.from({ length: HOT }, () => live[Math.floor(rand() * live.length)]!)
const updates = await stream(repo, UPDATES, (i) => ({
  action: 'update',
  path: hot[i % HOT]!,
  record: newPost().record,
}))
note(
  `load made in ${((performance.now() - made) / 1000).toFixed(0)} s: ${RECORDS} records, CAR ` +
    `${kb(car0.length)} (${(car0.length / RECORDS).toFixed(0)} B/record); tree: ${tree.nodes} ` +
    `MST nodes ${kb(tree.nodeBytes)} (${(tree.nodeBytes / tree.nodes).toFixed(0)} B each), ` +
    `${tree.records} records ${kb(tree.recordBytes)} (${(tree.recordBytes / tree.records).toFixed(0)} B each)`,
)

/** Imports a CAR as a resync would (a whole repo, its blocks by CID). */
async function importCar(a: TempArchive, car: Uint8Array): Promise<number> {
  const slice = readCarSlice(car)
  const msg = { type: '#sync', seq: 1, did: DID, rev: '', blocks: car, time: '' } as const
  const { head } = commitParts(msg)
  const t = performance.now()
  await a.mirror.importRepo(DID, head, new Map(slice.blocks))
  return performance.now() - t
}

for (const kind of ['sqlite', 'postgres'] as const) {
  if (kind === 'postgres' && !PG_URL) {
    note('RELAY_TEST_POSTGRES_URL not set: PostgreSQL not measured')
    continue
  }
  note(`--- ${kind} ---`)
  {
    await using a = await tempArchive(kind)
    const ms = await importCar(a, car0)
    const s = await a.adb.storageBytes()
    const t = await a.store.totals()
    note(
      `import of ${RECORDS} records: ${ms.toFixed(0)} ms; ${await size(a)}; ` +
        `${(s.total / RECORDS).toFixed(0)} B/record on disk, ${(s.total / car0.length).toFixed(2)}× ` +
        `the CAR; ${t.blocks} blocks of ${kb(t.bytes)}`,
    )
    note(`  ${await breakdown(a)}`)
    await apply(a, mixed, 'mixed creates/updates/deletes')
    note(`  after the mixed stream: ${await size(a)}`)
    await apply(a, updates, `${UPDATES} updates of the same ${HOT} records`, true)
    note(`  ${await breakdown(a)}`)
  }
  {
    await using a = await tempArchive(kind)
    await importCar(a, car1)
    const silent = { info() {}, error() {} }
    const compactor = new Compactor({
      mirror: a.mirror,
      adb: a.adb,
      dids: (after, limit) => a.store.dids(after, limit),
      now: Date.now,
      logger: silent,
    })
    note(`the same updates on a fresh import, compacting at ${MARKS.join(', ')}:`)
    let done = 0
    for (const m of MARKS) {
      await apply(a, updates.slice(done, m), `  updates ${done + 1}–${m}`)
      done = m
      const before = await size(a)
      const r = await compactor.compactOne(DID)
      note(`  at ${m}: ${before} → compacted (${r?.removed} removed): ${await size(a)}`)
    }
  }
}
