// The stores against a real PostgreSQL, when one is given: RELAY_TEST_POSTGRES_URL names a
// database this test may wipe (it drops the relay's tables first). Skipped otherwise, so the
// default test run stays offline and embedded-only.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { Kysely, PostgresDialect } from 'kysely'
import pg from 'pg'
import type { AccountRow } from './accounts.ts'
import { openDatabase, type RelayDatabase } from './database.ts'
import { DatabaseError, DuplicateHostError } from './errors.ts'

const url = process.env.RELAY_TEST_POSTGRES_URL
const T0 = '2026-11-01T00:00:00.000Z'

function account(i: number, hostId: number, extra: Partial<AccountRow> = {}): AccountRow {
  return {
    did: `did:plc:${String(i).padStart(24, '0')}`,
    hostId,
    localStatus: 'active',
    upstreamStatus: 'active',
    rev: 'r',
    commitCid: 'c',
    dataCid: 'd',
    handle: null,
    createdAt: T0,
    updatedAt: T0,
    ...extra,
  }
}

describe('RelayDatabase on PostgreSQL', {
  skip: url === undefined && 'RELAY_TEST_POSTGRES_URL not set',
}, () => {
  let db: RelayDatabase
  const config = { kind: 'postgres' as const, url: url ?? '', maxConnections: 4 }

  before(async () => {
    const wipe = new Kysely<unknown>({
      dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url, max: 1 }) }),
    })
    for (const table of [
      'account',
      'host',
      'meta',
      'identity',
      'kysely_migration',
      'kysely_migration_lock',
    ])
      await wipe.schema.dropTable(table).ifExists().execute()
    await wipe.destroy()
    db = await openDatabase(config)
  })
  after(() => db?.close())

  it('migrates, and reopening runs nothing', async () => {
    assert.deepEqual(db.migrationsApplied, ['0001_initial', '0002_identity', '0003_identity_age'])
    const again = await openDatabase(config)
    assert.deepEqual(again.migrationsApplied, [])
    await again.close()
    await db.ping()
  })

  it('identities: upsert (the last row of a DID wins), read with the time as a number, delete (by DID, age, method)', async () => {
    const row = (did: string, at: number) => ({
      did,
      pds: 'https://pds.example.com',
      handle: 'a.test',
      key_type: 'Multikey',
      key: 'zQ3sh',
      resolved_at: at,
    })
    const a = 'did:plc:aaaaaaaaaaaaaaaaaaaaaaaa'
    await db.identities.upsertMany([row(a, 1), row(a, 1_764_000_000_000)])
    assert.deepEqual(await db.identities.get(a), row(a, 1_764_000_000_000))
    await db.identities.upsertMany([{ ...row(a, 5), key_type: null, key: null }])
    assert.equal((await db.identities.get(a))?.key, null)
    await db.identities.deleteMany([a, 'did:plc:absentabsentabsentabsent'])
    assert.equal(await db.identities.get(a), undefined)
    const b = 'did:plc:bbbbbbbbbbbbbbbbbbbbbbbb'
    await db.identities.upsertMany([row(a, 10), row(b, 20)])
    assert.equal(await db.identities.deleteResolvedBefore(15, 500), 1)
    assert.equal(await db.identities.get(a), undefined)
    assert.notEqual(await db.identities.get(b), undefined)
    await db.identities.deleteMany([b])
    // One method's rows (a start with another PLC directory), matched exactly under any collation.
    await db.identities.upsertMany([row(a, 1), row(b, 2), row('did:web:plc.example.com', 3)])
    assert.equal(await db.identities.deleteMethod('plc'), 2)
    assert.equal(await db.identities.get(a), undefined)
    assert.notEqual(await db.identities.get('did:web:plc.example.com'), undefined)
    await db.identities.deleteMany(['did:web:plc.example.com'])
  })

  it('hosts: create, duplicate, update, bigint cursors as numbers, count', async () => {
    const h = await db.hosts.create({ hostname: 'a.example', ssl: true, accountLimit: 10 })
    await assert.rejects(
      db.hosts.create({ hostname: 'a.example', ssl: true, accountLimit: 1 }),
      DuplicateHostError,
    )
    await db.hosts.saveCursors(new Map([[h.id, 7278969010]]))
    const u = await db.hosts.update(h.id, { status: 'idle', perDay: 5, trusted: true })
    assert.equal(u.cursor, 7278969010)
    assert.equal(u.trusted, true)
    assert.equal(await db.hosts.countCreatedSince('2000-01-01T00:00:00Z'), 1)
    assert.deepEqual(await db.hosts.getByHostname('a.example'), u)
  })

  it('accounts: upsert (last row wins), lookups, counts, pages; transactions roll back', async () => {
    const h = await db.hosts.create({ hostname: 'b.example', ssl: true, accountLimit: 10 })
    const rows = Array.from({ length: 1200 }, (_, i) => account(i, h.id))
    await db.accounts.upsertMany([...rows, account(0, h.id, { rev: 'last' })])
    assert.equal(await db.accounts.countByHost(h.id), 1200)
    assert.equal((await db.accounts.get(account(0, h.id).did))?.rev, 'last')
    assert.equal((await db.accounts.getMany(rows.map((r) => r.did))).size, 1200)
    assert.equal((await db.accounts.listPage(null, 10, { withCommit: true })).length, 10)
    assert.equal((await db.accounts.listByHostStatus(h.id, 'active', 3)).length, 3)

    await db.meta.set('k', '1')
    await assert.rejects(
      db.transaction(async ({ meta, accounts }) => {
        await meta.set('k', '2')
        await accounts.upsertMany([account(5000, 999_999)])
      }),
      (e: unknown) => e instanceof DatabaseError && e.reason === 'constraint',
    )
    assert.equal(await db.meta.get('k'), '1')
    // A duplicate create inside a transaction does not abort it.
    await db.transaction(async ({ hosts, meta }) => {
      await assert.rejects(
        hosts.create({ hostname: 'b.example', ssl: true, accountLimit: 1 }),
        DuplicateHostError,
      )
      await meta.set('k', '3')
    })
    assert.equal(await db.meta.get('k'), '3')
  })
})
