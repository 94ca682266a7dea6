// AccountStore.upsertMany throughput, the account batch writer's hot path: rows/s in batches of
// 1,000 on a SQLite file (WAL, synchronous=NORMAL), for new rows and for overwrites, alone and
// with the checkpoint in the same transaction, by statement chunk size and with the
// prepared-statement cache off. A raw node:sqlite loop (one prepared single-row upsert in a
// transaction of 1,000) is the floor Kysely's overhead is compared with; BENCHMARKS.md ("Library
// measurements") has better-sqlite3 at ~44,000/s for the same shape. Set RELAY_BENCH_POSTGRES_URL
// to add PostgreSQL.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { measure, measureAsync, note } from '../../bench/harness.ts'
import type { AccountRow } from './accounts.ts'
import { type DbConfig, type DbOptions, openDatabase } from './database.ts'

const BATCH = 1000
const T0 = '2026-11-01T00:00:00.000Z'

const dir = await mkdtemp(join(tmpdir(), 'relay-db-bench-'))
let file = 0

function batchOf(start: number, hostId: number, rev: string): AccountRow[] {
  return Array.from({ length: BATCH }, (_, i) => ({
    did: `did:plc:${(start + i).toString(36).padStart(24, 'a')}`,
    hostId,
    localStatus: 'active',
    upstreamStatus: 'active',
    rev,
    commitCid: 'bafyreihffx5a2e7k5uwrmmgofbvzujc5cmw5h4espouwuxt3liqoflx3ee',
    dataCid: 'bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm',
    handle: null,
    createdAt: T0,
    updatedAt: T0,
  }))
}

async function run(
  label: string,
  options: DbOptions,
  withCheckpoint: boolean,
  config: DbConfig = { kind: 'sqlite', path: join(dir, `b${file++}.sqlite`) },
) {
  const db = await openDatabase(config, options)
  const hostname = `pds${Date.now()}.example.com`
  const host = await db.hosts.create({ hostname, ssl: true, accountLimit: 1e9 })
  let next = 0
  const write = (rows: AccountRow[], seq: number) =>
    withCheckpoint
      ? db.transaction(async ({ accounts, meta }) => {
          await accounts.upsertMany(rows)
          await meta.set('accounts_checkpoint_seq', String(seq))
        })
      : db.accounts.upsertMany(rows)
  await measureAsync(
    `${label}: new rows`,
    () => {
      const rows = batchOf(next + host.id * 1e8, host.id, '3l2aaaaaaaaaa')
      next += BATCH
      return write(rows, next)
    },
    { opsPerCall: BATCH },
  )
  // Overwrite rows that exist (the common case once the relay has seen an account).
  const existing = next
  let k = 0
  let rev = 0
  await measureAsync(
    `${label}: overwrites (${existing.toLocaleString('en-US')} rows)`,
    () => {
      const start = (k * BATCH) % Math.max(existing - BATCH, 1)
      const rows = batchOf(start + host.id * 1e8, host.id, `3l2${rev++}`)
      k++
      return write(rows, existing + k)
    },
    { opsPerCall: BATCH },
  )
  await db.close()
}

try {
  await run('chunk 500 (default)', {}, false)
  await run('chunk 500 + checkpoint in the same transaction', {}, true)
  for (const chunk of [50, 100, 250, 1000])
    await run(`chunk ${chunk}`, { accountUpsertChunkRows: chunk }, false)
  await run('chunk 500, statement cache off', { sqliteStatementCacheSize: 0 }, false)

  // The floor: node:sqlite directly, one prepared single-row upsert, 1,000 per transaction.
  const raw = new DatabaseSync(join(dir, 'raw.sqlite'))
  raw.exec('pragma journal_mode = WAL; pragma synchronous = NORMAL')
  raw.exec(`create table account (did text primary key, host_id integer not null,
    local_status text not null, upstream_status text not null, rev text, commit_cid text,
    data_cid text, handle text, created_at text not null, updated_at text not null)`)
  const upsert = raw.prepare(`insert into account values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    on conflict (did) do update set host_id = excluded.host_id, rev = excluded.rev,
    updated_at = excluded.updated_at`)
  let n = 0
  measure(
    'raw node:sqlite, single-row statement, 1,000 per transaction',
    () => {
      raw.exec('begin')
      for (const r of batchOf(n, 1, '3l2aaaaaaaaaa')) {
        upsert.run(
          r.did,
          r.hostId,
          r.localStatus,
          r.upstreamStatus,
          r.rev,
          r.commitCid,
          r.dataCid,
          r.handle,
          r.createdAt,
          r.updatedAt,
        )
      }
      raw.exec('commit')
      n += BATCH
    },
    { opsPerCall: BATCH },
  )
  raw.close()
  // PostgreSQL when one is given (a database the bench may write to; it adds a host per run).
  const pgUrl = process.env.RELAY_BENCH_POSTGRES_URL
  if (pgUrl !== undefined)
    await run('postgres, chunk 500', {}, true, { kind: 'postgres', url: pgUrl, maxConnections: 4 })
  else note('RELAY_BENCH_POSTGRES_URL not set: PostgreSQL not measured')
  note('rows/s above; one op = one account row')
} finally {
  await rm(dir, { recursive: true, force: true })
}
