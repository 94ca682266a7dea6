// The host table in memory: ban reasons stored as data and read back, hosts banned before
// reasons were stored upgraded once from their status text, writes visible at once and waited
// for, account counts and ratchet counters written only with the checkpoint and only when they
// changed, a ratchet transition written at once, at most one write per host running with later
// changes joined into one waiting write; a failed write is reported and its fields written again
// (by the next write, `written()`, or the next checkpoint).
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { HostStore } from '../db/hosts.ts'
import { tempDatabase } from '../db/testing.ts'
import { HostRows } from './host-rows.ts'

const noError = (err: unknown) => {
  throw err
}

/** The real store with its `update` replaced by `wrap` of the real one. */
function withUpdate(
  store: HostStore,
  wrap: (real: HostStore['update']) => HostStore['update'],
): HostStore {
  const update = wrap(store.update.bind(store))
  return new Proxy(store, {
    get(target, prop) {
      if (prop === 'update') return update
      const value: unknown = Reflect.get(target, prop, target)
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
}

describe('host rows', () => {
  it('stores ban reasons as data, and reads them back after a restart', async () => {
    await using t = await tempDatabase()
    const rows = new HostRows(t.db.hosts, t.db.meta, noError)
    await rows.load()
    const a = await rows.create({ hostname: 'a.example', ssl: true, accountLimit: 10 })
    const b = await rows.create({ hostname: 'b.example', ssl: true, accountLimit: 10 })
    await rows.update(a.id, { status: 'banned', statusReason: 'whatever the text says' })
    await rows.setBan(a.id, { kind: 'domain', domain: 'example' })
    await rows.update(b.id, { status: 'banned', statusReason: 'blocked' })
    await rows.setBan(b.id, { kind: 'kill-upstream' })
    const again = new HostRows(t.db.hosts, t.db.meta, noError)
    await again.load()
    assert.deepEqual(again.ban(a.id), { kind: 'domain', domain: 'example' })
    assert.deepEqual(again.ban(b.id), { kind: 'kill-upstream' })
    await again.setBan(a.id, null)
    await again.update(a.id, { status: 'active', statusReason: null })
    assert.equal(again.ban(a.id), null)
  })

  it('keeps a host’s ingest view while nothing in it changes, and says when a ban or a sync mode changes it', async () => {
    await using t = await tempDatabase()
    const changed: number[] = []
    const rows = new HostRows(t.db.hosts, t.db.meta, noError, (id) => changed.push(id))
    await rows.load()
    const a = await rows.create({ hostname: 'a.example', ssl: true, accountLimit: 10 })
    const view = rows.ingestView(a.id)
    rows.adjustAccountCount(a.id, 3)
    await rows.update(a.id, { statusReason: 'a note' })
    assert.equal(rows.ingestView(a.id), view, 'the same object: nothing ingest reads changed')
    rows.setSyncState(a.id, { mode: null, effective: 'lenient', goodRun: 5 })
    assert.notEqual(rows.ingestView(a.id), view, 'a new good run: a new view…')
    assert.deepEqual(changed, [], '…but not one that changes how events are judged')
    await rows.update(a.id, { status: 'banned', statusReason: 'blocked' })
    assert.equal(rows.ingestView(a.id)?.banned, true)
    rows.setSyncState(a.id, { mode: 'strict', effective: 'strict', goodRun: 0 })
    await rows.update(a.id, { status: 'banned', statusReason: 'still blocked' })
    await rows.update(a.id, { status: 'active', statusReason: null })
    assert.deepEqual(changed, [a.id, a.id, a.id], 'banned, strict, unbanned')
  })

  it('upgrades hosts banned before reasons were stored, once, from their status text', async () => {
    await using t = await tempDatabase()
    const byDomain = await t.db.hosts.create({
      hostname: 'x.spam.example',
      ssl: true,
      accountLimit: 1,
    })
    const byHand = await t.db.hosts.create({ hostname: 'y.example', ssl: true, accountLimit: 1 })
    await t.db.hosts.update(byDomain.id, {
      status: 'banned',
      statusReason: 'domain spam.example is banned',
    })
    await t.db.hosts.update(byHand.id, { status: 'banned', statusReason: 'blocked by an operator' })
    const rows = new HostRows(t.db.hosts, t.db.meta, noError)
    await rows.load()
    assert.deepEqual(rows.ban(byDomain.id), { kind: 'domain', domain: 'spam.example' })
    assert.deepEqual(rows.ban(byHand.id), { kind: 'operator' })
    assert.ok((await t.db.meta.get('hosts.bans'))?.includes('spam.example'), 'stored as data now')
  })

  it('applies updates in memory at once and writes account counts only when they changed', async () => {
    await using t = await tempDatabase()
    const rows = new HostRows(t.db.hosts, t.db.meta, noError)
    await rows.load()
    const h = await rows.create({ hostname: 'c.example', ssl: true, accountLimit: 5 })
    const write = rows.update(h.id, { accountLimit: 7 })
    assert.equal(rows.get(h.id)!.accountLimit, 7, 'visible before the write finishes')
    await rows.written(h.id)
    await write
    assert.equal((await t.db.hosts.getById(h.id))!.accountLimit, 7)
    rows.adjustAccountCount(h.id, 2)
    assert.equal(rows.get(h.id)!.accountCount, 2)
    assert.equal((await t.db.hosts.getById(h.id))!.accountCount, 0, 'not written yet')
    await rows.persistBatched()
    assert.equal((await t.db.hosts.getById(h.id))!.accountCount, 2)
  })
})

describe('host rows: write pacing', () => {
  /** The real store, counting `update` calls and the most running at once. */
  function counting(store: HostStore) {
    const n = { calls: 0, running: 0, maxRunning: 0 }
    const proxy = withUpdate(store, (real) => async (...args) => {
      n.calls++
      n.maxRunning = Math.max(n.maxRunning, ++n.running)
      try {
        return await real(...args)
      } finally {
        n.running--
      }
    })
    return { store: proxy, n }
  }

  it('writes the good-run counter with the checkpoint only, and a transition at once', async () => {
    await using t = await tempDatabase()
    const { store, n } = counting(t.db.hosts)
    const rows = new HostRows(store, t.db.meta, noError)
    await rows.load()
    const h = await rows.create({ hostname: 'd.example', ssl: true, accountLimit: 5 })
    for (let goodRun = 1; goodRun <= 50; goodRun++)
      rows.setSyncState(h.id, { mode: null, effective: 'lenient', goodRun })
    await rows.allWritten()
    assert.equal(n.calls, 0, 'a lenient host counting up writes nothing per commit')
    assert.equal(rows.ingestView(h.id)?.sync.goodRun, 50, 'in memory at once')
    await rows.persistBatched()
    assert.equal(n.calls, 1)
    assert.equal((await t.db.hosts.getById(h.id))!.syncGoodRun, 50)
    await rows.persistBatched()
    assert.equal(n.calls, 1, 'nothing changed since: nothing written')
    rows.setSyncState(h.id, { mode: null, effective: 'strict', goodRun: 51 })
    await rows.written(h.id)
    assert.equal(n.calls, 2, 'the transition is written without waiting for a checkpoint')
    const stored = await t.db.hosts.getById(h.id)
    assert.deepEqual([stored?.syncEffective, stored?.syncGoodRun], ['strict', 51])
  })

  it('runs one write per host at a time; changes made meanwhile join one waiting write', async () => {
    await using t = await tempDatabase()
    const { store, n } = counting(t.db.hosts)
    const rows = new HostRows(store, t.db.meta, noError)
    await rows.load()
    const h = await rows.create({ hostname: 'e.example', ssl: true, accountLimit: 5 })
    const writes = [rows.update(h.id, { accountLimit: 6 })]
    for (let limit = 7; limit <= 30; limit++)
      writes.push(rows.update(h.id, { accountLimit: limit }))
    writes.push(rows.update(h.id, { trusted: true }))
    await Promise.all(writes)
    assert.equal(n.maxRunning, 1, 'never two writes of one row at once')
    assert.equal(n.calls, 2, 'the first write, then one for everything changed while it ran')
    const stored = await t.db.hosts.getById(h.id)
    assert.deepEqual([stored?.accountLimit, stored?.trusted], [30, true])
  })
})

describe('host rows: failed writes', () => {
  /** The real store, whose `update` fails while `down` is set. */
  function faulty(store: HostStore) {
    const fault = { down: false }
    const proxy = withUpdate(
      store,
      (real) =>
        (...args) =>
          fault.down ? Promise.reject(new Error('db down')) : real(...args),
    )
    return { store: proxy, fault }
  }

  it('a failed write is reported, and written() writes the fields it left out again', async () => {
    await using t = await tempDatabase()
    const { store, fault } = faulty(t.db.hosts)
    const rows = new HostRows(store, t.db.meta, noError)
    await rows.load()
    const a = await rows.create({ hostname: 'a.example', ssl: true, accountLimit: 10 })
    fault.down = true
    await assert.rejects(rows.update(a.id, { status: 'banned', statusReason: 'x' }), /db down/)
    assert.equal(rows.get(a.id)?.status, 'banned', 'in memory at once all the same')
    await assert.rejects(rows.written(a.id), /db down/)
    fault.down = false
    // A later write of other fields carries the ones left out.
    await rows.update(a.id, { trusted: true })
    const stored = await t.db.hosts.getById(a.id)
    assert.deepEqual([stored?.status, stored?.statusReason, stored?.trusted], ['banned', 'x', true])
    await rows.written(a.id)
  })

  it('the next checkpoint writes what a failed write left out, and a failed count again later', async () => {
    await using t = await tempDatabase()
    const { store, fault } = faulty(t.db.hosts)
    const rows = new HostRows(store, t.db.meta, noError)
    await rows.load()
    const a = await rows.create({ hostname: 'a.example', ssl: true, accountLimit: 10 })
    fault.down = true
    await assert.rejects(rows.update(a.id, { status: 'offline', statusReason: 'gone' }))
    rows.adjustAccountCount(a.id, 3)
    await assert.rejects(rows.persistBatched(), /db down/)
    fault.down = false
    await rows.persistBatched()
    const stored = await t.db.hosts.getById(a.id)
    assert.deepEqual([stored?.status, stored?.accountCount], ['offline', 3])
  })
})
