// The host table in memory: ban reasons stored as data and read back, hosts banned before
// reasons were stored upgraded once from their status text, writes visible at once and waited
// for, and account counts written only when they changed.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { tempDatabase } from '../db/testing.ts'
import { HostRows } from './host-rows.ts'

const noError = (err: unknown) => {
  throw err
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
    await rows.persistCounts()
    assert.equal((await t.db.hosts.getById(h.id))!.accountCount, 2)
  })
})
