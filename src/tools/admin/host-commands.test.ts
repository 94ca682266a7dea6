// What the host commands print: the `host list` table (host, status, accounts/limit, cursor,
// rate, last drop reason), `host limits` without flags, trusted domains in both shapes, and
// --json passing the answer through untouched. The resync commands: host-resync.test.ts.
import assert from 'node:assert/strict'
import { afterEach, beforeEach, describe, it } from 'node:test'
import { FakeAdminServer } from './fake-admin-server.ts'
import { runAdmin } from './testing.ts'

const HOSTS = [
  {
    ID: 1,
    Host: 'pds.example.com',
    Status: 'active',
    Cursor: 12345,
    Blocked: false,
    Trusted: true,
    RepoCount: 42,
    RepoLimit: 100,
    HasActiveConnection: true,
    RateLimit: 50,
    HourlyEventLimit: 2600,
    DailyEventLimit: 21000,
    PerSecondEventRate: { Max: 50, Window: 1 },
    PerHourEventRate: { Max: 2600, Window: 3600 },
    PerDayEventRate: { Max: 21000, Window: 86400 },
    CrawlRate: { Max: 5, Window: 1 },
    CurrentRates: { perSecond: 12.34, perHour: 40000, perDay: 900000 },
    SyncValidation: { mode: 'auto', effective: 'strict', pinned: false },
    LastError: { reason: 'bad-signature', at: '2026-01-01T00:00:00Z', did: 'did:plc:x' },
    RecentDrops: [
      { reason: 'bad-signature', count1h: 3, count24h: 7, lastAt: '2026-01-01T00:00:00Z' },
    ],
  },
  {
    ID: 2,
    Host: 'abc.example.org',
    Status: 'offline',
    Cursor: 9,
    Blocked: true,
    RepoCount: 1234567,
    RepoLimit: 2000000,
    HasActiveConnection: false,
    RateLimit: 100,
    RecentDrops: [
      { reason: 'future-rev', lastAt: '2026-01-01T00:00:00Z' },
      { reason: 'stale-rev', lastAt: '2026-01-01T00:30:00Z' },
    ],
  },
  { ID: 3, Host: 'quiet.example.net', Status: 'idle', RepoLimit: 100 },
]

describe('relay admin host: output', () => {
  let fake: FakeAdminServer
  beforeEach(async () => {
    fake = (await FakeAdminServer.start()).on('GET /admin/pds/list', { json: HOSTS })
  })
  afterEach(() => fake.close())

  it('host list: one aligned row per host, sorted, with a count line', async () => {
    const run = await runAdmin(fake, ['host', 'list'])
    assert.equal(run.code, 0, run.stderr)
    assert.equal(
      run.stdout,
      [
        'HOST               STATUS                        ACCOUNTS  CURSOR  RATE             LAST DROP',
        'abc.example.org    offline (blocked)  1,234,567/2,000,000       9  max 100/s        stale-rev',
        'pds.example.com    active (trusted)                42/100  12,345  12.3/s (max 50)  bad-signature',
        'quiet.example.net  idle                             -/100       -  -                -',
        '3 hosts, 1 connected',
        '',
      ].join('\n'),
    )
  })

  it('host list --json prints the relay answer as is', async () => {
    const run = await runAdmin(fake, ['host', 'list', '--json'])
    assert.equal(run.code, 0)
    assert.deepEqual(JSON.parse(run.stdout), HOSTS)
  })

  it('host limits HOST without flags shows the current limits; an unknown host exits 1', async () => {
    const run = await runAdmin(fake, ['host', 'limits', 'pds.example.com'])
    assert.equal(run.code, 0, run.stderr)
    assert.match(run.stdout, /per second: +50\n/)
    assert.match(run.stdout, /per hour: +2,600\n/)
    assert.match(run.stdout, /per day: +21,000\n/)
    assert.match(run.stdout, /crawl rate: +5\/s\n/)
    assert.match(run.stdout, /accounts: +42 of 100\n/)
    assert.match(run.stdout, /sync validation: auto \(effective strict\)/)
    const json = await runAdmin(fake, ['host', 'limits', 'pds.example.com', '--json'])
    assert.deepEqual(JSON.parse(json.stdout), {
      host: 'pds.example.com',
      per_second: 50,
      per_hour: 2600,
      per_day: 21000,
      crawl_rate: 5,
      repo_limit: 100,
      sync_validation: { mode: 'auto', effective: 'strict', pinned: false },
    })
    const unknown = await runAdmin(fake, ['host', 'limits', 'nope.example'])
    assert.equal(unknown.code, 1)
    assert.match(unknown.stderr, /does not know host nope\.example/)
  })

  it('host limits with flags says what was set', async () => {
    fake.on('POST /admin/pds/changeLimits', { json: { success: 'true' } })
    const run = await runAdmin(fake, ['host', 'limits', 'a.example', '--per-second', '10'])
    assert.equal(run.code, 0, run.stderr)
    assert.equal(run.stdout, 'limits of a.example set: per_second=10\n')
  })

  it('host trusted: plain domains and {domain, source} objects, with a list-wide source', async () => {
    fake.on('GET /admin/pds/trustedDomains', {
      json: { trusted_domains: [{ domain: '*.host.bsky.network', source: 'flag' }, 'b.example'] },
    })
    const run = await runAdmin(fake, ['host', 'trusted'])
    assert.equal(run.code, 0, run.stderr)
    assert.equal(
      run.stdout,
      'DOMAIN               SOURCE\n*.host.bsky.network  flag\nb.example            -\n',
    )
    fake.on('GET /admin/pds/trustedDomains', {
      json: { trusted_domains: ['a.example', 'b.example'], source: 'admin' },
    })
    const listWide = await runAdmin(fake, ['host', 'trusted'])
    assert.equal(listWide.stdout, 'DOMAIN     SOURCE\na.example  admin\nb.example  admin\n')
  })

  it('host untrust of a domain that is not trusted: the relay’s 404 is an error (1), not "unavailable"', async () => {
    fake.on('POST /admin/pds/removeTrustedDomain', {
      status: 404,
      json: { error: 'NotFound', message: 'c.example is not a trusted domain' },
    })
    const run = await runAdmin(fake, ['host', 'untrust', 'c.example'])
    assert.equal(run.code, 1)
    assert.match(run.stderr, /HTTP 404 NotFound c\.example is not a trusted domain/)
  })

  it('host add --cursor N asks for a start cursor and prints what the relay says', async () => {
    const message = 'pds.new.example is followed from after its seq 0'
    fake.on('POST /admin/pds/requestCrawl', { json: { success: 'true', cursor: 0, message } })
    const run = await runAdmin(fake, ['host', 'add', 'pds.new.example', '--cursor', '0'])
    assert.equal(run.code, 0, run.stderr)
    assert.deepEqual(fake.requests.at(-1)!.body, { hostname: 'pds.new.example', cursor: 0 })
    assert.equal(run.stdout, `subscribed to pds.new.example: ${message}\n`)
    const bad = await runAdmin(fake, ['host', 'add', 'pds.new.example', '--cursor', '-1'])
    assert.equal(bad.code, 2)
    assert.match(bad.stderr, /--cursor must be a non-negative integer/)
  })
})
