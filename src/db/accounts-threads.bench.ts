// Account-state writes to one SQLite file from several threads at once, each with its own
// node:sqlite connection (WAL, synchronous=NORMAL, a busy timeout), as account shards would each
// write their own accounts (docs/scaling.md, decision 9). Each thread writes batches of 1,000
// upserts in one transaction over its own 100,000 DIDs: first as fast as it can (rows/s in total
// and per thread, and the share of each thread's time spent waiting for the write lock), then
// paced to a batch every 50 ms each, as checkpoints would write (the longest wait for the lock).
// WAL lets one writer in at a time, so the total is what one writer manages; the questions are
// what waiting and handing the lock over cost, and whether every writer gets its turn. The table
// is a cut-down account table (no status or commit columns, no index but the key) and each
// thread writes its DIDs in key order, so its rows/s are above what the relay's table gives; the
// comparison between one writer and several is the point.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { DatabaseSync } from 'node:sqlite'
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads'
import { note } from '../../bench/harness.ts'

const BATCH = 1000
const DIDS_PER_THREAD = 100_000
const SECONDS = Number(process.env.DB_THREADS_BENCH_SECONDS ?? 5)
const WRITERS = [1, 2, 4]
const CID = 'bafyreihffx5a2e7k5uwrmmgofbvzujc5cmw5h4espouwuxt3liqoflx3ee'

const PACE_MS = 50

interface Result {
  readonly rows: number
  readonly waitMs: number
  readonly maxWaitMs: number
  readonly ms: number
}

function open(file: string): DatabaseSync {
  const db = new DatabaseSync(file)
  db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 10000')
  return db
}

function writer(file: string, index: number, seconds: number, paced: boolean): Result {
  const db = open(file)
  const upsert = db.prepare(
    `INSERT INTO account (did, host_id, rev, data_cid, updated_at) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (did) DO UPDATE SET rev = excluded.rev, data_cid = excluded.data_cid,
     updated_at = excluded.updated_at`,
  )
  const start = performance.now()
  let rows = 0
  let waitMs = 0
  let maxWaitMs = 0
  let next = 0
  while (performance.now() - start < seconds * 1000) {
    if (paced) {
      const due = start + (rows / BATCH) * PACE_MS
      while (performance.now() < due)
        Atomics.wait(SLEEP, 0, 0, Math.max(1, due - performance.now()))
    }
    const asked = performance.now()
    db.exec('BEGIN IMMEDIATE')
    const waited = performance.now() - asked
    waitMs += waited
    maxWaitMs = Math.max(maxWaitMs, waited)
    const rev = `3l${String(rows).padStart(11, '2')}`
    for (let i = 0; i < BATCH; i++) {
      const n = index * DIDS_PER_THREAD + (next++ % DIDS_PER_THREAD)
      upsert.run(`did:plc:${n.toString(36).padStart(24, 'a')}`, index + 1, rev, CID, Date.now())
    }
    db.exec('COMMIT')
    rows += BATCH
  }
  db.close()
  return { rows, waitMs, maxWaitMs, ms: performance.now() - start }
}

const SLEEP = new Int32Array(new SharedArrayBuffer(4))

if (!isMainThread) {
  const { file, index, seconds, paced } = workerData as {
    file: string
    index: number
    seconds: number
    paced: boolean
  }
  parentPort!.postMessage(writer(file, index, seconds, paced))
} else {
  const dir = await mkdtemp(join(tmpdir(), 'relay-db-threads-'))
  try {
    await runAll(join(dir, 'accounts.sqlite'))
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

async function runAll(file: string): Promise<void> {
  const db = open(file)
  db.exec(
    `CREATE TABLE account (did TEXT PRIMARY KEY, host_id INTEGER NOT NULL, rev TEXT,
     data_cid TEXT, updated_at INTEGER NOT NULL)`,
  )
  db.close()
  note(`batches of ${BATCH} upserts per transaction, ${SECONDS} s per run, one file (WAL)`)
  for (const paced of [false, true]) {
    if (paced) note(`paced: a batch every ${PACE_MS} ms per writer`)
    for (const count of WRITERS) {
      const results = await Promise.all(
        Array.from(
          { length: count },
          (_, index) =>
            new Promise<Result>((resolve, reject) => {
              const w = new Worker(new URL(import.meta.url), {
                workerData: { file, index, seconds: SECONDS, paced },
              })
              w.once('message', resolve)
              w.once('error', reject)
            }),
        ),
      )
      const total = results.reduce((n, r) => n + r.rows, 0)
      const each = results.map((r) => Math.round(r.rows / (r.ms / 1000)).toLocaleString('en-US'))
      const waits = results.map((r) => `${((r.waitMs / r.ms) * 100).toFixed(0)}%`)
      const longest = Math.max(...results.map((r) => r.maxWaitMs)).toFixed(1)
      note(
        `${count} writer(s): ${Math.round(total / SECONDS).toLocaleString('en-US')} rows/s in all ` +
          `(each ${each.join(', ')}), waiting for the lock ${waits.join(', ')} of their time, ` +
          `longest wait ${longest} ms`,
      )
    }
  }
}
