import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { AccountRow } from './accounts.ts'
import { DatabaseError } from './errors.ts'
import { tempDatabase } from './testing.ts'

const T0 = '2026-11-01T00:00:00.000Z'
const at = (minutes: number) => new Date(Date.parse(T0) + minutes * 60_000).toISOString()

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

async function withHosts() {
  const t = await tempDatabase()
  const a = await t.db.hosts.create({ hostname: 'a.example', ssl: true, accountLimit: 10 })
  const b = await t.db.hosts.create({ hostname: 'b.example', ssl: true, accountLimit: 10 })
  return { t, a: a.id, b: b.id }
}

const did = (i: number) => `did:plc:${String(i).padStart(24, '0')}`

describe('AccountStore', () => {
  it('inserts rows and reads every field back', async () => {
    const { t, a } = await withHosts()
    await using _ = t
    const row = account('did:plc:ewvi7nxzyoun6zhxrhs64oiz', a, {
      localStatus: 'throttled',
      upstreamStatus: 'some-future-status',
      rev: '3l2nvnvqtuc2e',
      commitCid: 'bafyreig',
      dataCid: 'bafyreid',
      handle: 'alice.example.com',
      updatedAt: at(1),
    })
    await t.db.accounts.upsertMany([row])
    assert.deepEqual(await t.db.accounts.get(row.did), row)
    assert.equal(await t.db.accounts.get('did:plc:missing'), undefined)
  })

  it('upserts overwrite every field except createdAt, and the last row for a DID wins', async () => {
    const { t, a, b } = await withHosts()
    await using _ = t
    await t.db.accounts.upsertMany([account(did(1), a, { rev: 'r1', handle: 'one.example' })])
    const moved = account(did(1), b, {
      localStatus: 'takendown',
      upstreamStatus: 'deactivated',
      rev: 'r2',
      commitCid: 'c2',
      dataCid: 'd2',
      handle: null,
      createdAt: at(99),
      updatedAt: at(5),
    })
    await t.db.accounts.upsertMany([account(did(1), a, { rev: 'ignored' }), moved])
    assert.deepEqual(await t.db.accounts.get(did(1)), { ...moved, createdAt: T0 })
  })

  it('writes batches larger than one statement chunk, atomically', async () => {
    const t = await tempDatabase({ accountUpsertChunkRows: 7 })
    await using _ = t
    const h = await t.db.hosts.create({ hostname: 'a.example', ssl: true, accountLimit: 10 })
    const rows = Array.from({ length: 100 }, (_, i) => account(did(i), h.id))
    await t.db.accounts.upsertMany(rows)
    assert.equal(await t.db.accounts.countByHost(h.id), 100)
    // A bad row in the last chunk rolls back the earlier chunks of the same call.
    const more = Array.from({ length: 50 }, (_, i) => account(did(1000 + i), h.id))
    more.push(account(did(2000), 12345))
    await assert.rejects(t.db.accounts.upsertMany(more), (err: unknown) => {
      assert.ok(err instanceof DatabaseError)
      assert.equal(err.reason, 'constraint')
      return true
    })
    assert.equal(await t.db.accounts.countByHost(h.id), 100)
    await t.db.accounts.upsertMany([]) // nothing to do
  })

  it('getMany returns the existing rows keyed by DID, across lookup chunks', async () => {
    const { t, a } = await withHosts()
    await using _ = t
    const rows = Array.from({ length: 1200 }, (_, i) => account(did(i), a, { rev: `r${i}` }))
    await t.db.accounts.upsertMany(rows)
    const wanted = [...rows.map((r) => r.did), 'did:plc:nope', did(3)]
    const found = await t.db.accounts.getMany(wanted)
    assert.equal(found.size, 1200)
    assert.equal(found.get(did(1199))?.rev, 'r1199')
    assert.equal(found.has('did:plc:nope'), false)
    assert.equal((await t.db.accounts.getMany([])).size, 0)
  })

  it('counts accounts per host', async () => {
    const { t, a, b } = await withHosts()
    await using _ = t
    await t.db.accounts.upsertMany([account(did(1), a), account(did(2), a), account(did(3), b)])
    assert.equal(await t.db.accounts.countByHost(a), 2)
    assert.equal(await t.db.accounts.countByHost(b), 1)
    assert.equal(await t.db.accounts.countByHost(999), 0)
  })

  it('pages through all accounts by DID, optionally only those with a commit', async () => {
    const { t, a, b } = await withHosts()
    await using _ = t
    const rows = Array.from({ length: 25 }, (_, i) =>
      account(did(24 - i), i % 2 ? a : b, i % 3 ? { rev: 'r', commitCid: 'c' } : {}),
    )
    await t.db.accounts.upsertMany(rows)
    const seen: string[] = []
    let after: string | null = null
    for (;;) {
      const page: AccountRow[] = await t.db.accounts.listPage(after, 10)
      if (page.length === 0) break
      seen.push(...page.map((r) => r.did))
      after = page[page.length - 1]?.did ?? null
    }
    assert.deepEqual(seen, rows.map((r) => r.did).sort())
    const withCommit = await t.db.accounts.listPage(null, 100, { withCommit: true })
    assert.deepEqual(
      withCommit.map((r) => r.did),
      rows
        .filter((r) => r.commitCid !== null)
        .map((r) => r.did)
        .sort(),
    )
    assert.deepEqual(await t.db.accounts.listPage(did(24), 10), [])
    await assert.rejects(t.db.accounts.listPage(null, 0), RangeError)
  })

  it('lists a host’s accounts in one local status, oldest first', async () => {
    const { t, a, b } = await withHosts()
    await using _ = t
    await t.db.accounts.upsertMany([
      account(did(1), a, { localStatus: 'throttled', createdAt: at(30) }),
      account(did(2), a, { localStatus: 'throttled', createdAt: at(10) }),
      account(did(3), a, { localStatus: 'active', createdAt: at(0) }),
      account(did(4), b, { localStatus: 'throttled', createdAt: at(0) }),
      account(did(5), a, { localStatus: 'throttled', createdAt: at(20) }),
      account(did(6), a, { localStatus: 'throttled', createdAt: at(10) }),
    ])
    const oldest = await t.db.accounts.listByHostStatus(a, 'throttled', 3)
    assert.deepEqual(
      oldest.map((r) => r.did),
      [did(2), did(6), did(5)],
    )
    assert.deepEqual(
      (await t.db.accounts.listByHostStatus(a, 'active', 10)).map((r) => r.did),
      [did(3)],
    )
    assert.deepEqual(await t.db.accounts.listByHostStatus(b, 'takendown', 10), [])
  })
})
