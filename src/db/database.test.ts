import assert from 'node:assert/strict'
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { sql } from 'kysely'
import type { AccountRow } from './accounts.ts'
import { openDatabase } from './database.ts'
import { dbConfigFromUrl } from './dialect.ts'
import { classifyDriverError, DatabaseError } from './errors.ts'
import { MIGRATION_NAMES } from './migrations/index.ts'
import { tempDatabase } from './testing.ts'

const T0 = '2026-11-01T00:00:00.000Z'

function account(did: string, hostId: number, extra: Partial<AccountRow> = {}): AccountRow {
  return {
    did,
    hostId,
    localStatus: 'active',
    upstreamStatus: 'active',
    rev: null,
    commitCid: null,
    dataCid: null,
    handle: null,
    createdAt: T0,
    updatedAt: T0,
    ...extra,
  }
}

describe('openDatabase (sqlite)', () => {
  it('migrates a fresh file with exactly the expected migrations, in order', async () => {
    assert.deepEqual(MIGRATION_NAMES, ['0001_initial', '0002_identity', '0003_identity_age'])
    await using t = await tempDatabase()
    assert.equal(t.db.dialect, 'sqlite')
    assert.deepEqual(t.db.migrationsApplied, ['0001_initial', '0002_identity', '0003_identity_age'])
    const rows = await t.db.db
      .withTables<{ kysely_migration: { name: string; timestamp: string } }>()
      .selectFrom('kysely_migration')
      .select('name')
      .orderBy('timestamp')
      .execute()
    assert.deepEqual(
      rows.map((r) => r.name),
      MIGRATION_NAMES,
    )
    // The file's directory was created.
    assert.ok((await stat(t.path)).isFile())
  })

  it('is idempotent on reopen and keeps data', async () => {
    await using t = await tempDatabase()
    const host = await t.db.hosts.create({
      hostname: 'pds.example.com',
      ssl: true,
      accountLimit: 10,
    })
    await t.db.hosts.saveCursors(new Map([[host.id, 7278969010]]))
    await t.db.accounts.upsertMany([account('did:plc:aaa', host.id, { rev: '3l2' })])
    await t.db.meta.set('accounts_checkpoint_seq', '42')

    const db2 = await t.reopen()
    assert.deepEqual(db2.migrationsApplied, [])
    const again = await db2.hosts.getById(host.id)
    assert.equal(again?.cursor, 7278969010)
    assert.equal(typeof again?.cursor, 'number')
    assert.equal((await db2.accounts.get('did:plc:aaa'))?.rev, '3l2')
    assert.equal(await db2.meta.get('accounts_checkpoint_seq'), '42')
    const hostnames = await db2.db.selectFrom('host').select('hostname').execute()
    assert.deepEqual(
      hostnames.map((r) => r.hostname),
      ['pds.example.com'],
    )
  })

  it('sets WAL, synchronous=NORMAL, a busy timeout and foreign keys', async () => {
    await using t = await tempDatabase()
    const pragma = async (name: string) => {
      const r = await sql<Record<string, unknown>>`pragma ${sql.raw(name)}`.execute(t.db.db)
      return Object.values(r.rows[0] ?? {})[0]
    }
    assert.equal(await pragma('journal_mode'), 'wal')
    assert.equal(await pragma('synchronous'), 1) // NORMAL
    assert.equal(await pragma('foreign_keys'), 1)
    assert.ok(Number(await pragma('busy_timeout')) > 0)
  })

  it('ping answers; after close every operation is refused with reason closed', async () => {
    await using t = await tempDatabase()
    await t.db.ping()
    await t.db.close()
    await t.db.close() // idempotent
    for (const op of [
      () => t.db.ping(),
      () => t.db.meta.get('x'),
      () => t.db.hosts.list(),
      () => t.db.transaction(async () => 1),
    ]) {
      await assert.rejects(op(), (err: unknown) => {
        assert.ok(err instanceof DatabaseError)
        assert.equal(err.reason, 'closed')
        return true
      })
    }
  })

  it('close waits for operations in flight', async () => {
    await using t = await tempDatabase()
    const host = await t.db.hosts.create({ hostname: 'a.example', ssl: true, accountLimit: 10 })
    const rows = Array.from({ length: 3000 }, (_, i) => account(`did:plc:${i}`, host.id))
    const writing = t.db.accounts.upsertMany(rows)
    const closing = t.db.close()
    await writing
    await closing
    const db2 = await t.reopen()
    assert.equal(await db2.accounts.countByHost(host.id), 3000)
  })

  it('refuses a file that is not a database with reason unavailable', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'relay-db-test-'))
    try {
      const path = join(dir, 'garbage.sqlite')
      await writeFile(path, Buffer.alloc(8192, 7))
      await assert.rejects(openDatabase({ kind: 'sqlite', path }), (err: unknown) => {
        assert.ok(err instanceof DatabaseError)
        assert.equal(err.reason, 'unavailable')
        assert.ok(err.cause !== undefined)
        return true
      })
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('refuses better-sqlite3 below 13 (it aborts the process on Node 24)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'relay-db-test-'))
    try {
      const installed = createRequire(import.meta.url)('better-sqlite3/package.json') as {
        version: string
      }
      const open = openDatabase(
        { kind: 'sqlite', path: join(dir, 'b.sqlite') },
        { sqliteDriver: 'better-sqlite3' },
      )
      if (Number.parseInt(installed.version, 10) >= 13) {
        await (await open).close()
        return
      }
      await assert.rejects(open, (err: unknown) => {
        assert.ok(err instanceof DatabaseError)
        assert.equal(err.reason, 'unavailable')
        assert.match(err.message, /better-sqlite3/)
        return true
      })
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})

describe('RelayDatabase.transaction', () => {
  it('commits rows and the checkpoint together and returns the result', async () => {
    await using t = await tempDatabase()
    const host = await t.db.hosts.create({ hostname: 'a.example', ssl: true, accountLimit: 10 })
    const result = await t.db.transaction(async ({ accounts, meta }) => {
      await accounts.upsertMany([account('did:plc:a', host.id), account('did:plc:b', host.id)])
      await meta.set('accounts_checkpoint_seq', '100')
      return 'done'
    })
    assert.equal(result, 'done')
    assert.equal(await t.db.accounts.countByHost(host.id), 2)
    assert.equal(await t.db.meta.get('accounts_checkpoint_seq'), '100')
  })

  it("rolls back rows and checkpoint when the caller's function throws, rethrowing its error", async () => {
    await using t = await tempDatabase()
    const host = await t.db.hosts.create({ hostname: 'a.example', ssl: true, accountLimit: 10 })
    await t.db.meta.set('accounts_checkpoint_seq', '1')
    const boom = new Error('caller failed')
    await assert.rejects(
      t.db.transaction(async ({ accounts, meta, hosts }) => {
        await accounts.upsertMany([account('did:plc:a', host.id)])
        await meta.set('accounts_checkpoint_seq', '2')
        await hosts.saveCursors(new Map([[host.id, 99]]))
        throw boom
      }),
      (err) => err === boom,
    )
    assert.equal(await t.db.accounts.get('did:plc:a'), undefined)
    assert.equal(await t.db.meta.get('accounts_checkpoint_seq'), '1')
    assert.equal((await t.db.hosts.getById(host.id))?.cursor, null)
  })

  it('rolls back the checkpoint when a row fails (foreign key), without SQL in the message', async () => {
    await using t = await tempDatabase()
    const host = await t.db.hosts.create({ hostname: 'a.example', ssl: true, accountLimit: 10 })
    await assert.rejects(
      t.db.transaction(async ({ accounts, meta }) => {
        await meta.set('accounts_checkpoint_seq', '2')
        await accounts.upsertMany([account('did:plc:ok', host.id), account('did:plc:bad', 999)])
      }),
      (err: unknown) => {
        assert.ok(err instanceof DatabaseError)
        assert.equal(err.reason, 'constraint')
        assert.equal(err.operation, 'accounts.upsertMany')
        assert.doesNotMatch(err.message, /insert|values|did:plc|select/i)
        assert.ok(err.cause instanceof Error)
        return true
      },
    )
    assert.equal(await t.db.meta.get('accounts_checkpoint_seq'), undefined)
    assert.equal(await t.db.accounts.get('did:plc:ok'), undefined)
  })

  it('store methods that are atomic on their own join the enclosing transaction', async () => {
    await using t = await tempDatabase()
    const host = await t.db.hosts.create({ hostname: 'a.example', ssl: true, accountLimit: 10 })
    await t.db.transaction(async ({ accounts, hosts }) => {
      await accounts.upsertMany([account('did:plc:a', host.id)])
      await hosts.saveCursors(new Map([[host.id, 5]]))
      assert.equal((await accounts.get('did:plc:a'))?.did, 'did:plc:a') // sees its own writes
    })
    assert.equal((await t.db.hosts.getById(host.id))?.cursor, 5)
  })
})

describe('dbConfigFromUrl', () => {
  it('parses sqlite relative and absolute paths and postgres URLs', () => {
    assert.deepEqual(
      dbConfigFromUrl('sqlite://data/relay/relay.sqlite', { maxConnections: 5, cwd: '/srv' }),
      {
        kind: 'sqlite',
        path: '/srv/data/relay/relay.sqlite',
      },
    )
    assert.deepEqual(dbConfigFromUrl('sqlite:///var/lib/relay.sqlite', { maxConnections: 5 }), {
      kind: 'sqlite',
      path: '/var/lib/relay.sqlite',
    })
    assert.deepEqual(dbConfigFromUrl('postgres://u:p@db:5432/relay', { maxConnections: 8 }), {
      kind: 'postgres',
      url: 'postgres://u:p@db:5432/relay',
      maxConnections: 8,
    })
    assert.throws(() => dbConfigFromUrl('mysql://x', { maxConnections: 1 }), RangeError)
    assert.throws(() => dbConfigFromUrl('sqlite://', { maxConnections: 1 }), RangeError)
    assert.throws(() => dbConfigFromUrl('postgres://x', { maxConnections: 0 }), RangeError)
  })
})

describe('classifyDriverError', () => {
  it('maps SQLite and PostgreSQL codes to reasons', () => {
    const e = (code: string) => Object.assign(new Error('x'), { code })
    const n = (errcode: number) =>
      Object.assign(new Error('x'), { code: 'ERR_SQLITE_ERROR', errcode })
    assert.equal(classifyDriverError(n(5)), 'busy')
    assert.equal(classifyDriverError(n(517)), 'busy') // SQLITE_BUSY_SNAPSHOT
    assert.equal(classifyDriverError(n(787)), 'constraint') // SQLITE_CONSTRAINT_FOREIGNKEY
    assert.equal(classifyDriverError(n(26)), 'unavailable') // SQLITE_NOTADB
    assert.equal(classifyDriverError(n(13)), 'full')
    assert.equal(classifyDriverError(n(1)), 'query')
    assert.equal(classifyDriverError(e('SQLITE_BUSY')), 'busy')
    assert.equal(classifyDriverError(e('SQLITE_CONSTRAINT_FOREIGNKEY')), 'constraint')
    assert.equal(classifyDriverError(e('SQLITE_FULL')), 'full')
    assert.equal(classifyDriverError(e('SQLITE_CANTOPEN')), 'unavailable')
    assert.equal(classifyDriverError(e('23505')), 'constraint')
    assert.equal(classifyDriverError(e('40001')), 'busy')
    assert.equal(classifyDriverError(e('57P01')), 'unavailable')
    assert.equal(classifyDriverError(e('ECONNREFUSED')), 'unavailable')
    assert.equal(classifyDriverError(e('42P01')), 'query')
    assert.equal(classifyDriverError(new Error('plain')), 'query')
  })
})
