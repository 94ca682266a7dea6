// Hosts, built for real (testing.ts: a SQLite database, RelaySettings from its meta table, a
// clock the test moves, recording callbacks, fake PDSes on loopback): reads return views with the
// stored state; crawl admission (docs/design.md §4 item 20); the upstream side moves cursors only
// over completed events; an offline host is retried on its schedule (§4 item 13). The operations
// (blocks, bans, limits, trust, cursor resets) are in hosts-operations.test.ts.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { identityFrame, nonCanonicalIdentityFrame } from '../upstream/testing/frames.ts'
import { CrawlRefusedError } from './crawl-error.ts'
import { HostProbeError, InvalidHostnameError, UnknownHostError } from './errors.ts'
import { RELAY_HOST_ID } from './host-id.ts'
import { defaultLimits } from './rate-limit.ts'
import { DEFAULT_ACCOUNT_LIMIT, hostsRig, refused, T0 } from './testing.ts'

const DAY = 86_400_000
const CREATED = new Date(T0).toISOString()

describe('Hosts: reads', () => {
  it('load() gives views (not rows) with the stored status, reason, cursor and ban', async (t) => {
    const rig = await hostsRig(t)
    const a = await rig.addHost('a.example.test', { cursor: 7 })
    const b = await rig.addHost('b.example.test', {
      status: 'offline',
      statusReason: 'gone',
      accountCount: 3,
    })
    const c = await rig.addHost('c.example.test', { cursor: 2, trusted: true })
    await (await rig.open()).block(c.id, { kind: 'kill-upstream' })

    const hosts = await rig.open()
    const base = {
      ssl: true,
      accountCount: 0,
      accountLimit: DEFAULT_ACCOUNT_LIMIT,
      createdAt: CREATED,
    }
    const va = {
      ...base,
      id: a.id,
      hostname: 'a.example.test',
      status: 'active',
      statusReason: null,
      ban: null,
      cursor: 7,
      trusted: false,
    }
    const vb = {
      ...base,
      id: b.id,
      hostname: 'b.example.test',
      status: 'offline',
      statusReason: 'gone',
      ban: null,
      cursor: null,
      accountCount: 3,
      trusted: false,
    }
    const vc = {
      ...base,
      id: c.id,
      hostname: 'c.example.test',
      status: 'banned',
      statusReason: 'blocked by an operator (killUpstream)',
      ban: { kind: 'kill-upstream' },
      cursor: 2,
      trusted: true,
    }
    // Exact shapes: a view carries no row-only field (syncMode, perSecond, updatedAt, ...).
    assert.deepEqual(hosts.list(), [va, vb, vc])
    assert.deepEqual(hosts.get(b.id), vb)
    assert.equal(hosts.get(9_999), undefined)
    assert.deepEqual(hosts.byHostname('c.example.test'), vc)
    assert.equal(hosts.byHostname('C.example.test'), undefined, 'byHostname takes a stored name')
    assert.deepEqual(hosts.find('https://A.Example.Test./'), va)
    assert.deepEqual(hosts.lookup('C.EXAMPLE.TEST'), vc)
    assert.equal(hosts.cursor(a.id), 7)
    assert.deepEqual(
      hosts.cursors(),
      new Map([
        [a.id, 7],
        [b.id, null],
        [c.id, 2],
      ]),
    )
    assert.equal(hosts.ingestView(c.id)?.banned, true)
    assert.equal(hosts.ingestView(a.id)?.banned, false)
  })

  it('find() throws InvalidHostnameError / UnknownHostError; lookup() answers undefined', async (t) => {
    const rig = await hostsRig(t)
    await rig.addHost('a.example.test')
    const hosts = await rig.open()
    for (const bad of ['not a host', 'a.example.test/path', '10.0.0.1', ''])
      assert.throws(() => hosts.find(bad), InvalidHostnameError, bad)
    assert.throws(() => hosts.find('nobody.example.test'), UnknownHostError)
    for (const name of ['not a host', '10.0.0.1', 'nobody.example.test'])
      assert.equal(hosts.lookup(name), undefined, name)
  })
})

describe('Hosts: requestCrawl', () => {
  it('creates a new host with the default account limit, its trust and (admin) the start cursor given', async (t) => {
    const rig = await hostsRig(t, { config: { defaultAccountLimit: 250 } })
    const a = await rig.pds()
    const b = await rig.pds()
    const hosts = await rig.open()
    await hosts.addTrustedDomain(b.hostname) // before the host is known

    const first = await hosts.requestCrawl({ hostname: a.hostname, admin: true, cursor: 42 })
    assert.equal(first.created, true)
    assert.deepEqual(first.host, {
      id: first.host.id,
      hostname: a.hostname,
      ssl: false,
      status: 'active',
      statusReason: null,
      ban: null,
      cursor: 42,
      accountCount: 0,
      accountLimit: 250,
      trusted: false,
      createdAt: CREATED,
    })
    assert.equal((await a.pds.next()).cursor, '42', 'dialled from the start cursor given')
    assert.deepEqual(rig.calls.probes, [{ hostname: a.hostname, ssl: false, allowInsecure: true }])

    const again = await hosts.requestCrawl({ hostname: a.hostname, admin: true })
    assert.equal(again.created, false)
    assert.equal(again.host.id, first.host.id)
    assert.equal(again.host.cursor, 42)

    const second = await hosts.requestCrawl({ hostname: b.hostname, admin: true })
    assert.equal(second.created, true)
    assert.equal(second.host.trusted, true)
    assert.equal(second.host.cursor, null)
    assert.equal((await b.pds.next()).cursor, null, 'no start cursor: the live head')
    assert.deepEqual(hosts.describe(second.host.id)?.limits, defaultLimits(250, true))
    assert.deepEqual(hosts.describe(first.host.id)?.limits, defaultLimits(250, false))
    assert.notDeepEqual(defaultLimits(250, true), defaultLimits(250, false))
    assert.equal(hosts.list().length, 2)

    // Stored: a restart sees both, with the start cursor.
    const reloaded = await rig.open()
    assert.equal(reloaded.byHostname(a.hostname)?.cursor, 42)
    assert.equal(reloaded.byHostname(b.hostname)?.trusted, true)
  })

  it('a start cursor for a known host is refused (known-host); its own cursor stays', async (t) => {
    const rig = await hostsRig(t)
    const { hostname } = await rig.pds()
    await rig.addHost(hostname, { cursor: 9 })
    const hosts = await rig.open()
    await refused(hosts.requestCrawl({ hostname, admin: true, cursor: 1 }), 'known-host')
    assert.equal(hosts.byHostname(hostname)?.cursor, 9)
  })

  it('refuses a public request for a new host while public crawling is off (disabled)', async (t) => {
    const rig = await hostsRig(t, { publicCrawlEnabled: false })
    const hosts = await rig.open()
    await refused(hosts.requestCrawl({ hostname: 'pds.example.com', admin: false }), 'disabled')
    assert.deepEqual(rig.calls.probes, [], 'refused before probing')
    assert.deepEqual(hosts.list(), [])
    // An operator may still add hosts.
    const { hostname } = await rig.pds()
    assert.equal((await hosts.requestCrawl({ hostname, admin: true })).created, true)
  })

  it('holds the public to the new-hosts-per-day limit (rate-limited), over a one-day window', async (t) => {
    const rig = await hostsRig(t, {
      publicCrawlEnabled: true,
      newHostsPerDayLimit: 1,
      config: { allowInsecureHosts: true },
    })
    const a = await rig.pds()
    const b = await rig.pds()
    const hosts = await rig.open()
    assert.equal((await hosts.requestCrawl({ hostname: a.hostname, admin: false })).created, true)
    await refused(hosts.requestCrawl({ hostname: b.hostname, admin: false }), 'rate-limited')
    assert.equal(hosts.byHostname(b.hostname), undefined)
    // A known host is not a new one.
    assert.equal((await hosts.requestCrawl({ hostname: a.hostname, admin: false })).created, false)
    rig.clock.now += DAY + 1
    assert.equal((await hosts.requestCrawl({ hostname: b.hostname, admin: false })).created, true)
    assert.deepEqual(
      rig.calls.probes.map((p) => p.hostname),
      [a.hostname, a.hostname, b.hostname],
    )
  })

  it('a failed probe refuses the host (unreachable) and adds nothing', async (t) => {
    const rig = await hostsRig(t, {
      probe: async (target) => {
        throw new HostProbeError(target.hostname, 'unreachable', 'connection refused')
      },
    })
    const hosts = await rig.open()
    await assert.rejects(
      hosts.requestCrawl({ hostname: 'pds.example.test', admin: true }),
      (err) => {
        assert.ok(err instanceof CrawlRefusedError)
        assert.equal(err.kind, 'unreachable')
        assert.ok(err.cause instanceof HostProbeError)
        return true
      },
    )
    assert.deepEqual(hosts.list(), [])
    assert.equal(await rig.temp.db.hosts.getByHostname('pds.example.test'), undefined)
  })

  it('refuses a host under a banned domain, and a blocked host (banned), without probing', async (t) => {
    const rig = await hostsRig(t)
    const blocked = await rig.addHost('blocked.other.test')
    const hosts = await rig.open()
    await hosts.block(blocked.id, { kind: 'operator' })
    assert.equal(await hosts.banDomain('example.test'), 0)
    for (const hostname of ['example.test', 'pds.example.test', 'a.b.example.test'])
      await refused(hosts.requestCrawl({ hostname, admin: true }), 'banned')
    await refused(hosts.requestCrawl({ hostname: 'blocked.other.test', admin: true }), 'banned')
    assert.deepEqual(rig.calls.probes, [])
    assert.deepEqual(
      hosts.list().map((h) => h.hostname),
      ['blocked.other.test'],
    )
  })
})

describe('Hosts: upstream', () => {
  it('dials from the stored cursor; cursors move over completed events only; killUpstream', async (t) => {
    const rig = await hostsRig(t)
    const { pds, hostname } = await rig.pds()
    const a = await rig.addHost(hostname, { cursor: 10 })
    const b = await rig.addHost('b.example.test', { cursor: 3 })
    const hosts = await rig.open()
    await hosts.block(b.id, { kind: 'operator' }) // not dialled by start
    let persists = rig.calls.persists.length
    hosts.start(0)
    const sub = await pds.next()
    assert.equal(sub.cursor, '10')
    for (const seq of [11, 12, 13]) await sub.send(identityFrame(seq))
    await rig.until(() => rig.calls.events.length === 3, 'three events')
    assert.deepEqual(rig.calls.events, [
      { hostId: a.id, seq: 11, type: '#identity' },
      { hostId: a.id, seq: 12, type: '#identity' },
      { hostId: a.id, seq: 13, type: '#identity' },
    ])
    assert.equal(hosts.cursor(a.id), 10)
    hosts.settled(a.id, 11, false)
    assert.equal(hosts.cursor(a.id), 10, 'accepted, not yet written to the log')
    hosts.flushed([{ hostId: a.id, upstreamSeq: 11 }])
    assert.equal(hosts.cursor(a.id), 11)
    hosts.settled(a.id, 12, true)
    assert.equal(hosts.cursor(a.id), 12, 'a dropped event is complete')
    hosts.settled(a.id, 13, false)
    hosts.flushed([{ hostId: RELAY_HOST_ID, upstreamSeq: 13 }])
    assert.equal(hosts.cursor(a.id), 12, "the relay's own records cover no host")
    hosts.flushed([{ hostId: a.id, upstreamSeq: 13 }])
    assert.equal(hosts.cursor(a.id), 13)

    await sub.send(nonCanonicalIdentityFrame(14))
    await rig.until(() => rig.calls.drops.length === 1, 'the drop')
    assert.deepEqual(rig.calls.drops, [{ hostId: a.id, reason: 'non-canonical-cbor', seq: 14 }])
    assert.equal(hosts.cursor(a.id), 14)
    assert.deepEqual(
      hosts.cursors(),
      new Map([
        [a.id, 14],
        [b.id, 3],
      ]),
    )
    assert.equal(hosts.get(a.id)?.cursor, 14)
    assert.deepEqual(hosts.connectedHosts(), [a.id])

    await hosts.killUpstream(a.id, { block: false })
    await sub.closed
    assert.equal(hosts.connection(a.id), undefined)
    assert.equal(hosts.cursor(a.id), 14)
    assert.equal(hosts.get(a.id)?.status, 'active')
    assert.equal(rig.calls.persists.length, ++persists)

    // A crawl request wakes it, from where it stopped.
    assert.equal((await hosts.requestCrawl({ hostname, admin: true })).created, false)
    const again = await pds.next()
    assert.equal(again.cursor, '14')

    await hosts.killUpstream(a.id, { block: true })
    await again.closed
    const v = hosts.get(a.id)
    assert.deepEqual(
      [v?.status, v?.ban, v?.statusReason, v?.cursor],
      ['banned', { kind: 'kill-upstream' }, 'blocked by an operator (killUpstream)', 14],
    )
    assert.equal(hosts.connection(a.id), undefined)
    assert.equal(rig.calls.persists.length, ++persists)
    assert.deepEqual((await rig.open()).get(a.id)?.ban, { kind: 'kill-upstream' })
  })

  it('start skips the seqs the log already has above the stored cursor', async (t) => {
    const rig = await hostsRig(t)
    const { pds, hostname } = await rig.pds()
    const a = await rig.addHost(hostname, { cursor: 10 })
    const hosts = await rig.open()
    hosts.recover(new Map([[a.id, new Set([11, 12])]]))
    hosts.start(0)
    const sub = await pds.next()
    for (const seq of [11, 12, 13]) await sub.send(identityFrame(seq))
    await rig.until(() => rig.calls.events.length === 1, 'the one new event')
    assert.deepEqual(
      rig.calls.events.map((e) => e.seq),
      [13],
    )
    assert.equal(hosts.cursor(a.id), 12)
    hosts.settled(a.id, 13, true)
    assert.equal(hosts.cursor(a.id), 13)
  })

  it('a host connected before its turn in the restart spread (a crawl request) still skips those seqs', async (t) => {
    const rig = await hostsRig(t)
    const first = await rig.pds()
    const second = await rig.pds()
    await rig.addHost(first.hostname, { cursor: 10 })
    const b = await rig.addHost(second.hostname, { cursor: 20 })
    const hosts = await rig.open()
    // Two hosts over a minute: b's turn would come after 30 s.
    hosts.recover(new Map([[b.id, new Set([21, 22])]]))
    hosts.start(60_000)
    await first.pds.next()
    await hosts.requestCrawl({ hostname: second.hostname, admin: true })
    const sub = await second.pds.next()
    for (const seq of [21, 22, 23]) await sub.send(identityFrame(seq))
    await rig.until(() => rig.calls.events.length === 1, 'the one new event')
    assert.deepEqual(
      rig.calls.events.map((e) => e.seq),
      [23],
    )
  })

  it('a host blocked before its turn in the restart spread is not dialled when its turn comes', async (t) => {
    const rig = await hostsRig(t)
    const first = await rig.pds()
    const second = await rig.pds()
    await rig.addHost(first.hostname, { cursor: 1 })
    const b = await rig.addHost(second.hostname, { cursor: 1 })
    const hosts = await rig.open()
    hosts.start(400) // b's turn after 200 ms
    await first.pds.next()
    await hosts.block(b.id, { kind: 'kill-upstream' })
    await new Promise((r) => setTimeout(r, 500))
    assert.equal(second.pds.all.length, 0)
  })
})

describe('Hosts: offline hosts', () => {
  const statusOptions = { offlineAfterFailures: 1, offlineRetry: { initialMs: 50, maxMs: 100 } }

  /** A hostname nothing listens on any more. */
  async function closedHost(rig: Awaited<ReturnType<typeof hostsRig>>): Promise<string> {
    const { pds, hostname } = await rig.pds()
    await pds.close()
    return hostname
  }

  it('a host whose PDS is gone goes offline (stored) and is dialled again when its retry is due', async (t) => {
    const rig = await hostsRig(t, { statusOptions, statusTickMs: 10 })
    const a = await rig.addHost(await closedHost(rig), { cursor: 4 })
    const hosts = await rig.open()
    hosts.start(0)
    await rig.until(() => hosts.get(a.id)?.status === 'offline', 'offline')
    const reason = hosts.get(a.id)?.statusReason
    assert.match(reason ?? '', /^1 connection failures in a row; last: /)
    assert.equal(hosts.connection(a.id), undefined, 'offline: no longer dialled')
    const info = hosts.describe(a.id)?.statusInfo
    assert.equal(info?.consecutiveFailures, 1)
    assert.ok(info?.nextRetryAt != null && info.nextRetryAt > rig.clock.now)

    await rig.until(
      async () => (await rig.temp.db.hosts.getById(a.id))?.status === 'offline',
      'the status stored',
    )
    const restarted = await rig.open()
    assert.deepEqual(
      [restarted.get(a.id)?.status, restarted.get(a.id)?.statusReason],
      ['offline', reason],
    )

    rig.clock.now = info.nextRetryAt
    await rig.until(
      () => (hosts.describe(a.id)?.statusInfo?.consecutiveFailures ?? 0) >= 2,
      'the retry dialled (and failed)',
    )
    assert.equal(hosts.get(a.id)?.status, 'offline')
    assert.equal(hosts.cursor(a.id), 4)
    const next = hosts.describe(a.id)?.statusInfo?.nextRetryAt
    assert.ok(next != null && next > rig.clock.now, 'never abandoned: a next retry is set')
  })

  it('an offline host whose PDS answers again is active from its retry, resuming at its cursor', async (t) => {
    const rig = await hostsRig(t, { statusOptions, statusTickMs: 10 })
    const { pds, hostname } = await rig.pds()
    const a = await rig.addHost(hostname, { cursor: 4 })
    const hosts = await rig.open()
    hosts.start(0)
    const first = await pds.next()
    first.socket.terminate() // the PDS drops the connection at once
    await rig.until(() => hosts.get(a.id)?.status === 'offline', 'offline')
    assert.equal(hosts.connection(a.id), undefined)

    rig.clock.now = hosts.describe(a.id)!.statusInfo!.nextRetryAt!
    const second = await pds.next()
    assert.equal(second.cursor, '4')
    await second.send(identityFrame(5))
    await rig.until(() => rig.calls.events.length === 1, 'an event')
    assert.equal(hosts.get(a.id)?.status, 'active')
  })

  it('a failed retry stops dialling until the next retry is due', async (t) => {
    const rig = await hostsRig(t, { statusOptions, statusTickMs: 10 })
    const a = await rig.addHost(await closedHost(rig))
    const hosts = await rig.open()
    hosts.start(0)
    await rig.until(() => hosts.get(a.id)?.status === 'offline', 'offline')
    rig.clock.now = hosts.describe(a.id)!.statusInfo!.nextRetryAt!
    await rig.until(
      () => (hosts.describe(a.id)?.statusInfo?.consecutiveFailures ?? 0) >= 2,
      'the retry failed',
    )
    const conn = hosts.connection(a.id)
    assert.ok(conn === undefined || conn.state === 'stopped', `connection ${conn?.state}`)
  })
})
