// Hosts' operations, built for real (testing.ts): every status change goes through the status
// machine and is stored; bans are data (a domain unban releases exactly the hosts that ban
// blocked, also after a restart, and not one another banned domain still covers); limits,
// trusted domains and cursor resets apply their whole rule.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Hosts } from './hosts.ts'
import { defaultLimits } from './rate-limit.ts'
import { DEFAULT_ACCOUNT_LIMIT, hostsRig, NO_DIAL, refused, statuses } from './testing.ts'

describe('Hosts: blocks', () => {
  it('a block whose status write fails still disconnects the host, and says the write failed', async (t) => {
    const rig = await hostsRig(t)
    const { pds, hostname } = await rig.pds()
    const a = await rig.addHost(hostname, { cursor: 5 })
    const hosts = await rig.open()
    hosts.start(0)
    const sub = await pds.next()
    rig.storeFaults.update = true
    await assert.rejects(hosts.block(a.id, { kind: 'operator' }), /database is unavailable/)
    await sub.closed
    assert.equal(hosts.connection(a.id), undefined, 'disconnected all the same')
    assert.equal(hosts.ingestView(a.id)?.banned, true, 'its events are refused meanwhile')
    assert.equal((await rig.temp.db.hosts.getById(a.id))?.status, 'active', 'nothing stored')
    assert.equal(rig.calls.persists.length, 0)
    // The operator tries again once the database is back: stored.
    rig.storeFaults.update = false
    await hosts.block(a.id, { kind: 'operator' })
    assert.equal((await rig.temp.db.hosts.getById(a.id))?.status, 'banned')
  })

  it('block and unblock go through the status machine, are stored, and ask for a checkpoint', async (t) => {
    const rig = await hostsRig(t)
    const { pds, hostname } = await rig.pds()
    const a = await rig.addHost(hostname, { cursor: 5 })
    const hosts = await rig.open()
    hosts.start(0)
    const sub = await pds.next()
    await hosts.block(a.id, { kind: 'operator' })
    await sub.closed
    assert.equal(hosts.connection(a.id), undefined, 'disconnected')
    const banned = {
      status: 'banned',
      statusReason: 'blocked by an operator',
      ban: { kind: 'operator' },
      cursor: 5,
    }
    const pick = (h: Hosts) => {
      const v = h.get(a.id)
      return v && { status: v.status, statusReason: v.statusReason, ban: v.ban, cursor: v.cursor }
    }
    assert.deepEqual(pick(hosts), banned)
    assert.equal(hosts.ingestView(a.id)?.banned, true)
    assert.equal(hosts.describe(a.id)?.statusInfo?.status, 'banned')
    assert.equal(rig.calls.persists.length, 1)
    const row = await rig.temp.db.hosts.getById(a.id)
    assert.deepEqual([row?.status, row?.statusReason], ['banned', 'blocked by an operator'])
    assert.deepEqual(pick(await rig.open()), banned, 'a restart sees the block and its reason')

    await hosts.unblock(a.id)
    const active = {
      status: 'active',
      statusReason: 'unblocked by an operator',
      ban: null,
      cursor: 5,
    }
    assert.deepEqual(pick(hosts), active)
    assert.equal(hosts.ingestView(a.id)?.banned, false)
    assert.equal(hosts.describe(a.id)?.statusInfo?.status, 'active')
    assert.equal((await pds.next()).cursor, '5', 'connected again, from its cursor')
    assert.deepEqual(pick(await rig.open()), active, 'a restart sees the unblock')
  })
})

describe('Hosts: domain bans', () => {
  const names = [
    'example.test',
    'a.example.test',
    'deep.a.example.test',
    'op.example.test',
    'notexample.test',
    'other.test',
  ]

  async function setup(t: Parameters<typeof hostsRig>[0]) {
    const rig = await hostsRig(t)
    const ids = new Map<string, number>()
    for (const n of names) ids.set(n, (await rig.addHost(`${n}${NO_DIAL}`)).id)
    const hosts = await rig.open()
    await hosts.block(ids.get('op.example.test')!, { kind: 'operator' })
    return { rig, hosts, ids }
  }

  it('banDomain blocks exactly the known hosts under it and leaves an operator block alone', async (t) => {
    const { rig, hosts, ids } = await setup(t)
    const persists = rig.calls.persists.length
    assert.equal(await hosts.banDomain('example.test'), 3)
    assert.equal(rig.calls.persists.length, persists + 1)
    assert.deepEqual(statuses(hosts), {
      'example.test': ['banned', 'domain'],
      'a.example.test': ['banned', 'domain'],
      'deep.a.example.test': ['banned', 'domain'],
      'op.example.test': ['banned', 'operator'],
      'notexample.test': ['active', null],
      'other.test': ['active', null],
    })
    const a = hosts.get(ids.get('a.example.test')!)!
    assert.deepEqual(a.ban, { kind: 'domain', domain: 'example.test' })
    assert.equal(a.statusReason, 'domain example.test is banned')
    assert.equal(hosts.get(ids.get('op.example.test')!)?.statusReason, 'blocked by an operator')
    assert.deepEqual(hosts.settings.bannedDomains, ['example.test'])
    assert.equal(await hosts.banDomain('example.test'), 0, 'nothing left to block')

    assert.equal(await hosts.unbanDomain('other.test'), false, 'not banned')
    assert.equal(await hosts.unbanDomain('example.test'), true)
    assert.deepEqual(statuses(hosts), {
      'example.test': ['active', null],
      'a.example.test': ['active', null],
      'deep.a.example.test': ['active', null],
      'op.example.test': ['banned', 'operator'],
      'notexample.test': ['active', null],
      'other.test': ['active', null],
    })
    assert.deepEqual(hosts.settings.bannedDomains, [])
    assert.equal(await hosts.unbanDomain('example.test'), false, 'no longer banned')
  })

  it('after a restart, unbanDomain still releases exactly the hosts that ban blocked', async (t) => {
    const { rig, hosts, ids } = await setup(t)
    assert.equal(await hosts.banDomain('example.test'), 3)
    await hosts.stop()

    const restarted = await rig.open()
    assert.deepEqual(restarted.settings.bannedDomains, ['example.test'])
    assert.deepEqual(restarted.get(ids.get('deep.a.example.test')!)?.ban, {
      kind: 'domain',
      domain: 'example.test',
    })
    assert.deepEqual(restarted.get(ids.get('op.example.test')!)?.ban, { kind: 'operator' })
    assert.equal(await restarted.unbanDomain('example.test'), true)
    assert.deepEqual(statuses(restarted), {
      'example.test': ['active', null],
      'a.example.test': ['active', null],
      'deep.a.example.test': ['active', null],
      'op.example.test': ['banned', 'operator'],
      'notexample.test': ['active', null],
      'other.test': ['active', null],
    })
  })

  it('an operator block of a host a domain ban blocked outlasts the domain ban', async (t) => {
    const { hosts, ids } = await setup(t)
    const a = ids.get('a.example.test')!
    await hosts.banDomain('example.test')
    await hosts.block(a, { kind: 'operator' })
    assert.deepEqual(hosts.get(a)?.ban, { kind: 'operator' })
    assert.equal(await hosts.unbanDomain('example.test'), true)
    assert.deepEqual(hosts.get(a)?.ban, { kind: 'operator' })
    assert.equal(hosts.get(a)?.status, 'banned')
    assert.equal(hosts.get(ids.get('deep.a.example.test')!)?.status, 'active')
  })

  it('unbanning a domain leaves banned a host still under another banned domain', async (t) => {
    const rig = await hostsRig(t)
    const h = await rig.addHost(`pds.sub.example.test${NO_DIAL}`)
    const hosts = await rig.open()
    assert.equal(await hosts.banDomain('example.test'), 1)
    assert.equal(await hosts.banDomain('sub.example.test'), 0)
    assert.equal(await hosts.unbanDomain('example.test'), true)
    // sub.example.test is still banned: a crawl request for the host would be refused as banned.
    await refused(hosts.requestCrawl({ hostname: 'pds.sub.example.test', admin: true }), 'banned')
    assert.equal(hosts.get(h.id)?.status, 'banned')
  })
})

describe('Hosts: limits and trust', () => {
  it('changeLimits stores the limits; only a raised account limit releases throttled accounts', async (t) => {
    const rig = await hostsRig(t)
    const a = await rig.addHost('a.example.test')
    const b = await rig.addHost('b.example.test')
    const hosts = await rig.open()
    hosts.adjustAccountCount(a.id, 30)

    await hosts.changeLimits(a.id, { perSecond: 7, perHour: 70, perDay: 700 })
    assert.deepEqual(hosts.describe(a.id)?.limits, { perSecond: 7, perHour: 70, perDay: 700 })
    assert.deepEqual(rig.calls.limitRaises, [])

    await hosts.changeLimits(a.id, { accountLimit: 150 })
    assert.deepEqual(rig.calls.limitRaises, [{ hostId: a.id, slots: 120 }])
    assert.equal(hosts.get(a.id)?.accountLimit, 150)
    await hosts.changeLimits(a.id, { accountLimit: 40 })
    await hosts.changeLimits(a.id, { accountLimit: 40 })
    assert.equal(rig.calls.limitRaises.length, 1, 'lowered or unchanged: nothing released')
    assert.equal(hosts.describe(a.id)?.accountLimit, 40)

    await hosts.changeLimits(a.id, { syncMode: 'strict', crawlRate: 2 })
    assert.deepEqual(hosts.describe(a.id)?.sync, {
      mode: 'strict',
      effective: 'strict',
      pinned: true,
    })

    // Without limits of its own, a host's limits follow its account limit.
    await hosts.changeLimits(b.id, { accountLimit: 5_000 })
    assert.deepEqual(rig.calls.limitRaises.at(-1), { hostId: b.id, slots: 5_000 })
    assert.deepEqual(hosts.describe(b.id)?.limits, defaultLimits(5_000, false))
    assert.notDeepEqual(defaultLimits(5_000, false), defaultLimits(DEFAULT_ACCOUNT_LIMIT, false))

    const restarted = await rig.open()
    const da = restarted.describe(a.id)
    assert.deepEqual(da?.limits, { perSecond: 7, perHour: 70, perDay: 700 })
    assert.deepEqual([da?.accountLimit, da?.crawlRate, da?.sync.mode], [40, 2, 'strict'])
    assert.equal(restarted.describe(b.id)?.accountLimit, 5_000)
  })

  it('trusted domains make matching hosts trusted (with the trusted default limits), and back', async (t) => {
    const rig = await hostsRig(t)
    const a = await rig.addHost('a.trusted.test')
    const apex = await rig.addHost('trusted.test')
    const other = await rig.addHost('b.other.test')
    const hosts = await rig.open()
    await hosts.addTrustedDomain('*.trusted.test')
    assert.equal(hosts.get(a.id)?.trusted, true)
    assert.equal(hosts.get(apex.id)?.trusted, false, '*.x matches names below x only')
    assert.equal(hosts.get(other.id)?.trusted, false)
    assert.deepEqual(hosts.describe(a.id)?.limits, defaultLimits(DEFAULT_ACCOUNT_LIMIT, true))
    assert.deepEqual(hosts.describe(other.id)?.limits, defaultLimits(DEFAULT_ACCOUNT_LIMIT, false))
    assert.equal((await rig.open()).get(a.id)?.trusted, true, 'stored')

    assert.equal(await hosts.removeTrustedDomain('*.nope.test'), false)
    assert.equal(await hosts.removeTrustedDomain('*.trusted.test'), true)
    assert.equal(hosts.get(a.id)?.trusted, false)
    assert.deepEqual(hosts.describe(a.id)?.limits, defaultLimits(DEFAULT_ACCOUNT_LIMIT, false))
    assert.deepEqual(hosts.settings.trustedDomains.value, [])
    assert.equal(await hosts.removeTrustedDomain('*.trusted.test'), false)
    assert.equal((await rig.open()).get(a.id)?.trusted, false, 'stored')
  })
})

describe('Hosts: cursor resets', () => {
  it('resetCursor of a banned host forgets its cursor and leaves it disconnected', async (t) => {
    const rig = await hostsRig(t)
    const a = await rig.addHost('a.example.test', { cursor: 7 })
    const hosts = await rig.open()
    await hosts.block(a.id, { kind: 'operator' })
    const persists = rig.calls.persists.length
    await hosts.resetCursor(a.id)
    assert.deepEqual(rig.calls.cursorResets, [a.id])
    assert.equal(rig.calls.persists.length, persists + 1)
    assert.equal(hosts.cursor(a.id), null)
    assert.equal(hosts.get(a.id)?.cursor, null)
    assert.equal(hosts.cursors().get(a.id), null)
    assert.equal(hosts.connection(a.id), undefined)
    assert.equal(hosts.get(a.id)?.status, 'banned')
  })

  it('resetCursor of a connected host dials it again at its live head', async (t) => {
    const rig = await hostsRig(t)
    const { pds, hostname } = await rig.pds()
    const a = await rig.addHost(hostname, { cursor: 5 })
    const hosts = await rig.open()
    hosts.start(0)
    const first = await pds.next()
    assert.equal(first.cursor, '5')
    await hosts.resetCursor(a.id)
    const second = await pds.next()
    assert.equal(second.cursor, null)
    await first.closed
    assert.deepEqual(rig.calls.cursorResets, [a.id])
    assert.equal(rig.calls.persists.length, 1)
    assert.equal(hosts.cursor(a.id), null)
  })
})
