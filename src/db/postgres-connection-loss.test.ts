// A PostgreSQL connection lost while a query runs on it (the server restarted, a proxy or the
// network cut it) fails that query with an error the stores classify as 'unavailable' (callers
// wait and retry on it), and does not crash the process: pg also emits 'error' on the client, which the pool does not
// listen to while the client is in use. Then, with the connection back, the next query works.
// Runs when RELAY_TEST_POSTGRES_URL names a server; skipped otherwise.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Kysely, sql } from 'kysely'
import { TcpProxy } from '../../test/support/tcp-proxy.ts'
import { openPostgres } from './dialect.ts'
import { classifyDriverError } from './errors.ts'

const url = process.env.RELAY_TEST_POSTGRES_URL

test('a connection cut mid-query fails that query and crashes nothing', {
  skip: url === undefined && 'RELAY_TEST_POSTGRES_URL not set',
}, async () => {
  const target = new URL(url!)
  const proxy = await TcpProxy.start(target.hostname, Number(target.port || 5432))
  const viaProxy = new URL(url!)
  viaProxy.hostname = '127.0.0.1'
  viaProxy.port = String(proxy.port)
  const background: Error[] = []
  const uncaught: unknown[] = []
  const onUncaught = (err: unknown) => uncaught.push(err)
  process.on('uncaughtException', onUncaught)
  const db = new Kysely<unknown>({
    dialect: await openPostgres(viaProxy.toString(), 2, (err) => background.push(err)),
  })
  try {
    await sql`select 1`.execute(db)
    // A query that is running when the connection goes.
    const slow = sql`select pg_sleep(5)`.execute(db)
    await new Promise((r) => setTimeout(r, 300))
    proxy.cut()
    const err = await slow.then(
      () => assert.fail('the query should have failed'),
      (e: unknown) => e,
    )
    assert.equal(classifyDriverError(err), 'unavailable', String(err))
    await new Promise((r) => setTimeout(r, 200))
    assert.deepEqual(uncaught, [], 'nothing thrown past the caller')
    proxy.restore()
    const r = await sql<{ one: number }>`select 1 as one`.execute(db)
    assert.equal(r.rows[0]?.one, 1)
  } finally {
    process.off('uncaughtException', onUncaught)
    await db.destroy()
    await proxy.close()
  }
})
