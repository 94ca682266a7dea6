// How --max-db-conn is shared with account shards on PostgreSQL: half for the main thread, the
// rest split among the shards, never under 2 for any of them.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { connectionShares, sharedConfig } from './connection-shares.ts'

test('half for the main thread, the other half split among the shards, at least 2 each', () => {
  assert.deepEqual(connectionShares(20, 2), { main: 10, perShard: 5 })
  assert.deepEqual(connectionShares(20, 3), { main: 10, perShard: 3 })
  // Within the maximum while it leaves 2 for each.
  const { main, perShard } = connectionShares(40, 8)
  assert.ok(main + 8 * perShard <= 40)
  // Below that, each still gets 2, and together they hold more than the maximum.
  assert.deepEqual(connectionShares(4, 4), { main: 2, perShard: 2 })
})

test('a database config as each side uses it: shared on PostgreSQL with shards only', () => {
  const pg = { kind: 'postgres', url: 'postgres://x/y', maxConnections: 20 } as const
  assert.deepEqual(sharedConfig(pg, 2, 'main'), { ...pg, maxConnections: 10 })
  assert.deepEqual(sharedConfig(pg, 2, 'shard'), { ...pg, maxConnections: 5 })
  assert.equal(sharedConfig(pg, 0, 'main'), pg)
  const sqlite = { kind: 'sqlite', path: '/tmp/relay.sqlite' } as const
  assert.equal(sharedConfig(sqlite, 2, 'shard'), sqlite)
})
