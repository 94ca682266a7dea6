import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { DuplicateHostError, HostNotFoundError } from './errors.ts'
import { tempDatabase } from './testing.ts'

/** A clock the test moves by hand. */
function manualClock(start: string) {
  let t = Date.parse(start)
  return {
    now: () => new Date(t),
    advance(ms: number) {
      t += ms
    },
  }
}

describe('HostStore', () => {
  it('creates a host with defaults and reads it back by id and hostname', async () => {
    const clock = manualClock('2026-11-01T00:00:00.000Z')
    await using t = await tempDatabase({ now: clock.now })
    const h = await t.db.hosts.create({ hostname: 'pds.example.com', ssl: true, accountLimit: 100 })
    assert.deepEqual(h, {
      id: h.id,
      hostname: 'pds.example.com',
      ssl: true,
      status: 'active',
      statusReason: null,
      cursor: null,
      accountLimit: 100,
      accountCount: 0,
      trusted: false,
      syncMode: null,
      syncEffective: 'lenient',
      syncGoodRun: 0,
      perSecond: null,
      perHour: null,
      perDay: null,
      crawlRate: null,
      lastError: null,
      lastErrorAt: null,
      createdAt: '2026-11-01T00:00:00.000Z',
      updatedAt: '2026-11-01T00:00:00.000Z',
    })
    assert.ok(Number.isInteger(h.id) && h.id > 0)
    assert.deepEqual(await t.db.hosts.getById(h.id), h)
    assert.deepEqual(await t.db.hosts.getByHostname('pds.example.com'), h)
    assert.equal(await t.db.hosts.getById(h.id + 100), undefined)
    assert.equal(await t.db.hosts.getByHostname('other.example.com'), undefined)
  })

  it('honours the optional create fields, including a local dev host with a port', async () => {
    await using t = await tempDatabase()
    const h = await t.db.hosts.create({
      hostname: 'localhost:2583',
      ssl: false,
      status: 'banned',
      accountLimit: 5,
      trusted: true,
    })
    assert.equal(h.hostname, 'localhost:2583')
    assert.equal(h.ssl, false)
    assert.equal(h.status, 'banned')
    assert.equal(h.trusted, true)
  })

  it('throws DuplicateHostError for an existing hostname, also when created concurrently', async () => {
    await using t = await tempDatabase()
    await t.db.hosts.create({ hostname: 'a.example.com', ssl: true, accountLimit: 1 })
    await assert.rejects(
      t.db.hosts.create({ hostname: 'a.example.com', ssl: false, accountLimit: 2 }),
      (err: unknown) => {
        assert.ok(err instanceof DuplicateHostError)
        assert.equal(err.hostname, 'a.example.com')
        return true
      },
    )
    const results = await Promise.allSettled([
      t.db.hosts.create({ hostname: 'b.example.com', ssl: true, accountLimit: 1 }),
      t.db.hosts.create({ hostname: 'b.example.com', ssl: true, accountLimit: 1 }),
    ])
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1)
    const rejected = results.find((r) => r.status === 'rejected')
    assert.ok(rejected?.status === 'rejected' && rejected.reason instanceof DuplicateHostError)
    // The failed create left nothing behind.
    assert.equal((await t.db.hosts.list()).length, 2)
  })

  it('lists every host by id', async () => {
    await using t = await tempDatabase()
    const names = ['c.example', 'a.example', 'b.example']
    for (const hostname of names) await t.db.hosts.create({ hostname, ssl: true, accountLimit: 1 })
    const list = await t.db.hosts.list()
    assert.deepEqual(
      list.map((h) => h.hostname),
      names,
    )
    assert.ok(list.every((h, i) => i === 0 || h.id > (list[i - 1]?.id ?? 0)))
  })

  it('updates only the given fields, sets updatedAt, and can set nullable fields back to null', async () => {
    const clock = manualClock('2026-11-01T00:00:00.000Z')
    await using t = await tempDatabase({ now: clock.now })
    const h = await t.db.hosts.create({ hostname: 'a.example', ssl: true, accountLimit: 10 })
    clock.advance(60_000)
    const u = await t.db.hosts.update(h.id, {
      ssl: false,
      status: 'throttled',
      statusReason: 'rate limit',
      cursor: 12,
      accountLimit: 500,
      accountCount: 7,
      trusted: true,
      syncMode: 'strict',
      syncEffective: 'strict',
      syncGoodRun: 100,
      perSecond: 50,
      perHour: 3600,
      perDay: 86400,
      crawlRate: 5,
      lastError: 'connection refused',
      lastErrorAt: '2026-11-01T00:00:30.000Z',
    })
    assert.deepEqual(u, {
      ...h,
      ssl: false,
      status: 'throttled',
      statusReason: 'rate limit',
      cursor: 12,
      accountLimit: 500,
      accountCount: 7,
      trusted: true,
      syncMode: 'strict',
      syncEffective: 'strict',
      syncGoodRun: 100,
      perSecond: 50,
      perHour: 3600,
      perDay: 86400,
      crawlRate: 5,
      lastError: 'connection refused',
      lastErrorAt: '2026-11-01T00:00:30.000Z',
      updatedAt: '2026-11-01T00:01:00.000Z',
    })
    assert.deepEqual(await t.db.hosts.getById(h.id), u)

    const v = await t.db.hosts.update(h.id, { statusReason: null, syncMode: null, perSecond: null })
    assert.equal(v.statusReason, null)
    assert.equal(v.syncMode, null)
    assert.equal(v.perSecond, null)
    assert.equal(v.perHour, 3600) // untouched
    assert.equal(v.createdAt, h.createdAt)
  })

  it('throws HostNotFoundError when updating a missing id', async () => {
    await using t = await tempDatabase()
    await assert.rejects(t.db.hosts.update(42, { status: 'idle' }), (err: unknown) => {
      assert.ok(err instanceof HostNotFoundError)
      assert.equal(err.hostId, 42)
      return true
    })
  })

  it('saves cursors beyond 2^32 and reads them back as numbers, ignoring unknown ids', async () => {
    await using t = await tempDatabase()
    const a = await t.db.hosts.create({ hostname: 'a.example', ssl: true, accountLimit: 1 })
    const b = await t.db.hosts.create({ hostname: 'b.example', ssl: true, accountLimit: 1 })
    await t.db.hosts.saveCursors(
      new Map([
        [a.id, 7278969010],
        [b.id, 3],
        [9999, 5],
      ]),
    )
    const ra = await t.db.hosts.getById(a.id)
    assert.equal(ra?.cursor, 7278969010)
    assert.equal(typeof ra?.cursor, 'number')
    assert.equal((await t.db.hosts.getById(b.id))?.cursor, 3)
    assert.equal(ra?.updatedAt, a.updatedAt) // a checkpoint is not an edit
    await t.db.hosts.saveCursors(new Map([[a.id, Number.MAX_SAFE_INTEGER]]))
    assert.equal((await t.db.hosts.getById(a.id))?.cursor, Number.MAX_SAFE_INTEGER)
    await t.db.hosts.saveCursors(new Map()) // nothing to do
  })

  it('refuses cursors that are not non-negative safe integers, writing none of them', async () => {
    await using t = await tempDatabase()
    const a = await t.db.hosts.create({ hostname: 'a.example', ssl: true, accountLimit: 1 })
    for (const bad of [-1, 1.5, 2 ** 53, Number.NaN]) {
      await assert.rejects(
        t.db.hosts.saveCursors(
          new Map([
            [a.id, 10],
            [a.id + 1, bad],
          ]),
        ),
        RangeError,
      )
    }
    assert.equal((await t.db.hosts.getById(a.id))?.cursor, null)
  })

  it('counts hosts created since a time', async () => {
    const clock = manualClock('2026-11-01T00:00:00.000Z')
    await using t = await tempDatabase({ now: clock.now })
    await t.db.hosts.create({ hostname: 'old.example', ssl: true, accountLimit: 1 })
    clock.advance(25 * 3600_000)
    await t.db.hosts.create({ hostname: 'new1.example', ssl: true, accountLimit: 1 })
    clock.advance(1)
    await t.db.hosts.create({ hostname: 'new2.example', ssl: true, accountLimit: 1 })
    const dayAgo = new Date(clock.now().getTime() - 24 * 3600_000).toISOString()
    assert.equal(await t.db.hosts.countCreatedSince(dayAgo), 2)
    assert.equal(await t.db.hosts.countCreatedSince('2026-11-01T00:00:00.000Z'), 3)
    // Any ISO form is accepted and compared as the same instant.
    assert.equal(await t.db.hosts.countCreatedSince('2026-11-02T01:00:00+00:00'), 2)
    assert.equal(await t.db.hosts.countCreatedSince('2030-01-01T00:00:00Z'), 0)
    await assert.rejects(t.db.hosts.countCreatedSince('yesterday'), RangeError)
  })
})
