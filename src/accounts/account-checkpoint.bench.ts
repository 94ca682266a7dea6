// What a checkpoint of the account states costs the thread that writes it: N changed states
// written by AccountCache.write into a SQLite file that already holds them (overwrites, the
// common case), timed in all, and the longest the thread's event loop went without a turn
// meanwhile (a 1 ms interval timer notes the longest gap between its ticks), and the CPU the
// process spent (the timer's ticks included, a few ms). node:sqlite is
// synchronous, so a write blocks its thread for as long as the statement runs; on the main
// thread (no account shards) every event waits behind it, and on a shard its accounts' events
// do. The load generator's 2,000 accounts never make a checkpoint larger than 2,000 states; the
// network's distinct accounts in one `--checkpoint-interval` (3 s) can be tens of thousands.
// ACCOUNT_CHECKPOINT_BENCH_N sets the sizes (default 2000,10000,50000). Nothing here asserts.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { note } from '../../bench/harness.ts'
import { openDatabase } from '../db/database.ts'
import { AccountCache } from './account-cache.ts'
import { accountPersistence } from './account-rows.ts'
import type { AccountState } from './account-state.ts'

const SIZES = (process.env.ACCOUNT_CHECKPOINT_BENCH_N ?? '2000,10000,50000').split(',').map(Number)

const dir = await mkdtemp(join(tmpdir(), 'relay-checkpoint-bench-'))
const T0 = 1_764_000_000_000

function stateOf(i: number, hostId: number, rev: number): AccountState {
  return {
    did: `did:plc:${i.toString(36).padStart(24, 'a')}`,
    hostId,
    localStatus: 'active',
    upstreamStatus: 'active',
    rev: `3m${rev.toString(36).padStart(11, 'a')}`,
    commitCid: `bafyreihffx5a2e7k5uwrmmgofbvzujc5cmw5h4espouwuxt3li${(i % 100).toString().padStart(2, '0')}`,
    dataCid: 'bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm',
    handle: i % 4 === 0 ? null : `user${i}.bsky.social`,
    createdAt: T0 + i,
    updatedAt: T0 + i + rev,
  }
}

/** Runs `fn` and reports the longest gap between ticks of a 1 ms timer while it ran. */
async function longestBlock(
  fn: () => Promise<unknown>,
): Promise<{ ms: number; cpuMs: number; blockMs: number }> {
  let last = performance.now()
  let longest = 0
  const tick = setInterval(() => {
    const now = performance.now()
    longest = Math.max(longest, now - last)
    last = now
  }, 1)
  const start = performance.now()
  const cpu = process.cpuUsage()
  await fn()
  const used = process.cpuUsage(cpu)
  const ms = performance.now() - start
  longest = Math.max(longest, performance.now() - last)
  clearInterval(tick)
  return { ms, cpuMs: (used.user + used.system) / 1000, blockMs: longest }
}

try {
  for (const n of SIZES) {
    const db = await openDatabase({ kind: 'sqlite', path: join(dir, `n${n}.sqlite`) })
    const host = await db.hosts.create({
      hostname: `pds${n}.example.com`,
      ssl: true,
      accountLimit: 1e9,
    })
    const cache = new AccountCache(accountPersistence(db), { maxEntries: n })
    let seq = 0
    // Changed in an order unrelated to the DIDs' (as events arrive), as the cache then holds them.
    const order = Array.from({ length: n }, (_, i) => (i * 7919) % n)
    const round = async (rev: number) => {
      for (const i of order) cache.set(stateOf(i, host.id, rev), ++seq)
      return longestBlock(() => cache.write(seq))
    }
    await round(0) // the rows exist from here on: the rounds below overwrite them
    const runs: string[] = []
    for (let r = 1; r <= 3; r++) {
      const { ms, cpuMs, blockMs } = await round(r)
      runs.push(
        `${ms.toFixed(0)} ms, ${cpuMs.toFixed(0)} ms CPU, longest block ${blockMs.toFixed(1)} ms`,
      )
    }
    note(`checkpoint of ${n.toLocaleString('en-US')} changed states: ${runs.join('; ')}`)
    await db.close()
  }
} finally {
  await rm(dir, { recursive: true, force: true })
}
