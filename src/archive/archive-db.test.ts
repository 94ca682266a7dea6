// The archive's consistent reads are bounded: MAX_SNAPSHOTS run at once, MAX_SNAPSHOT_WAITERS
// more wait their turn (and get it when one ends), and past that a read is refused with
// SnapshotsBusyError (a 503 on the wire) instead of growing an unbounded line.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { sql } from 'kysely'
import { PG_URL } from '../../test/support/pg-temp.ts'
import { MAX_SNAPSHOT_WAITERS, SnapshotsBusyError } from './archive-db.ts'
import { tempArchive } from './testing.ts'

describe('archive snapshots', () => {
  it('run 8 at once, queue a bounded line, refuse beyond it', async () => {
    await using a = await tempArchive('sqlite')
    let release = () => {}
    const gate = new Promise<void>((r) => (release = r))
    let running = 0
    let most = 0
    const read = () =>
      a.adb.snapshot('test.read', async () => {
        running++
        most = Math.max(most, running)
        await gate
        running--
        return 'read'
      })
    const held = Array.from({ length: 8 + MAX_SNAPSHOT_WAITERS }, read)
    await new Promise((r) => setTimeout(r, 200))
    assert.equal(running, 8, 'eight run, the rest wait')
    await assert.rejects(read(), SnapshotsBusyError)
    release()
    assert.deepEqual(new Set(await Promise.all(held)), new Set(['read']), 'every waiter got a turn')
    assert.equal(most, 8)
  })
})

describe('the archive on PostgreSQL', {
  skip: !PG_URL && 'RELAY_TEST_POSTGRES_URL not set',
}, () => {
  it("commits without waiting for the WAL flush on every pooled connection, as SQLite's NORMAL does", async () => {
    await using a = await tempArchive('postgres')
    // Several connections at once, so more than the first one the pool opened is checked.
    const seen = await Promise.all(
      Array.from({ length: 4 }, () =>
        a.adb.transaction('test.show', async (trx) => {
          const r = await sql<{ synchronous_commit: string }>`show synchronous_commit`.execute(trx)
          await sql`select pg_sleep(0.05)`.execute(trx)
          return r.rows[0]!.synchronous_commit
        }),
      ),
    )
    assert.deepEqual(seen, ['off', 'off', 'off', 'off'])
  })
})
