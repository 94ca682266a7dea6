// What the host resync commands print and how they end: a started resync and its progress,
// following it with --wait (a failed end is exit 1), every stored resync as a table, a host never
// resynced or banned (exit 1), and exit 3 only when the relay lacks the route itself.
import assert from 'node:assert/strict'
import { afterEach, beforeEach, describe, it } from 'node:test'
import { FakeAdminServer } from './fake-admin-server.ts'
import { runAdmin } from './testing.ts'

const RUNNING = {
  pds: 'pds.example.com',
  numRepoPages: 3,
  numRepos: 1500,
  numReposChecked: 1500,
  numReposToResync: 7,
  numReposResynced: 5,
  numReposFailed: 1,
  status: 'running',
  statusChangedAt: '2026-01-01T00:50:00Z',
  lastError: null,
}

const progress = (extra: Record<string, unknown>) => ({
  json: { resync: { ...RUNNING, ...extra } },
})

describe('relay admin host resync', () => {
  let fake: FakeAdminServer
  beforeEach(async () => {
    fake = await FakeAdminServer.start()
  })
  afterEach(() => fake.close())

  it('host resync starts one and prints its progress with a hint', async () => {
    fake.on(
      'POST /admin/pds/resync',
      progress({
        numRepoPages: 0,
        numRepos: 0,
        numReposChecked: 0,
        numReposToResync: 0,
        numReposResynced: 0,
        numReposFailed: 0,
        statusChangedAt: '2026-01-01T01:00:00Z',
      }),
    )
    const run = await runAdmin(fake, ['host', 'resync', 'pds.example.com'])
    assert.equal(run.code, 0, run.stderr)
    assert.deepEqual(fake.only().query, { host: 'pds.example.com' })
    assert.equal(
      run.stdout,
      [
        'resync of pds.example.com: running (since 2026-01-01T01:00:00Z, 0s ago)',
        'checked 0 of 0 repos (0 pages), 0 to resync: 0 resynced, 0 failed',
        '(see: relay admin host resync-status pds.example.com)',
        '',
      ].join('\n'),
    )
    const json = await runAdmin(fake, ['host', 'resync', 'pds.example.com', '--json'])
    assert.equal(JSON.parse(json.stdout).resync.status, 'running')
  })

  it('host resync --wait polls until the resync ends, a line per change', async () => {
    fake.on('POST /admin/pds/resync', progress({}))
    fake.on(
      'GET /admin/pds/resync',
      progress({}),
      progress({}),
      progress({ numRepoPages: 4, numRepos: 1800, numReposChecked: 1800 }),
      progress({ numRepoPages: 4, numRepos: 1800, numReposChecked: 1800, status: 'done' }),
    )
    const run = await runAdmin(fake, ['host', 'resync', 'pds.example.com', '--wait'])
    assert.equal(run.code, 0, run.stderr)
    assert.equal(
      run.stdout,
      [
        'resync of pds.example.com: running (since 2026-01-01T00:50:00Z, 10m ago)',
        'checked 1,500 of 1,500 repos (3 pages), 7 to resync: 5 resynced, 1 failed',
        'running: checked 1,500 of 1,500 repos (3 pages), 7 to resync: 5 resynced, 1 failed',
        'running: checked 1,800 of 1,800 repos (4 pages), 7 to resync: 5 resynced, 1 failed',
        'done: checked 1,800 of 1,800 repos (4 pages), 7 to resync: 5 resynced, 1 failed',
        '',
      ].join('\n'),
    )
    assert.equal(run.sleeps, 3)
    assert.deepEqual(
      fake.requests.map((r) => `${r.method} ${r.query.host}`),
      ['POST pds.example.com', ...Array(4).fill('GET pds.example.com')],
    )
  })

  it('host resync --wait: a failed resync exits 1; --json prints only the last answer', async () => {
    fake.on('POST /admin/pds/resync', progress({}))
    const failed = progress({ status: 'failed', lastError: 'listRepos failed 3 times: HTTP 502' })
    fake.on('GET /admin/pds/resync', failed)
    const run = await runAdmin(fake, ['host', 'resync', 'pds.example.com', '--wait'])
    assert.equal(run.code, 1)
    assert.match(run.stdout, /failed: .* \(last error: listRepos failed 3 times: HTTP 502\)\n$/)
    assert.match(run.stderr, /host resync: resync of pds\.example\.com failed/)
    const json = await runAdmin(fake, ['host', 'resync', 'pds.example.com', '--wait', '--json'])
    assert.equal(json.code, 1)
    assert.deepEqual(JSON.parse(json.stdout), failed.json)
    const bad = await runAdmin(fake, ['host', 'resync', 'a.example', '--wait', '--interval', 'x'])
    assert.equal(bad.code, 2)
    assert.match(bad.stderr, /--interval must be a number of seconds/)
  })

  it('host resync-status shows the progress and the last error', async () => {
    fake.on('GET /admin/pds/resync', progress({ status: 'failed', lastError: 'HTTP 502' }))
    const run = await runAdmin(fake, ['host', 'resync-status', 'pds.example.com'])
    assert.equal(run.code, 0, run.stderr)
    assert.equal(
      run.stdout,
      'resync of pds.example.com: failed (since 2026-01-01T00:50:00Z, 10m ago)\n' +
        'checked 1,500 of 1,500 repos (3 pages), 7 to resync: 5 resynced, 1 failed\n' +
        'last error: HTTP 502\n',
    )
  })

  it('a host never resynced, an unknown or banned host: exit 1 with the reason', async () => {
    fake.on('GET /admin/pds/resync', {
      status: 404,
      json: { error: 'NotFound', message: 'no resync of route.example has run' },
    })
    const never = await runAdmin(fake, ['host', 'resync-status', 'route.example'])
    assert.equal(never.code, 1)
    assert.equal(
      never.stderr,
      'relay admin host resync-status: no resync of route.example has run ' +
        '(start one: relay admin host resync route.example)\n',
    )
    fake.on('GET /admin/pds/resync', {
      status: 404,
      json: { error: 'HostNotFound', message: 'unknown host nope.example' },
    })
    const unknown = await runAdmin(fake, ['host', 'resync-status', 'nope.example'])
    assert.equal(unknown.code, 1)
    assert.match(unknown.stderr, /HTTP 404 HostNotFound unknown host nope\.example/)
    fake.on('POST /admin/pds/resync', {
      status: 400,
      json: { error: 'HostBanned', message: 'bad.example is banned' },
    })
    const banned = await runAdmin(fake, ['host', 'resync', 'bad.example'])
    assert.equal(banned.code, 1)
    assert.match(banned.stderr, /POST \/admin\/pds\/resync: HTTP 400 HostBanned bad\.example/)
  })

  it('exit 3 only when the relay lacks the route (404 no such route, 405, 501)', async () => {
    for (const argv of [
      ['host', 'resync', 'pds.example.com'],
      ['host', 'resync-status', 'pds.example.com'],
      ['host', 'resyncs'],
    ]) {
      const run = await runAdmin(fake, argv)
      assert.equal(run.code, 3, argv.join(' '))
      assert.match(
        run.stderr,
        /resync is not available on this relay \(a version before resync\) \(HTTP 404 NotFound no such route\)/,
      )
    }
    fake.on('GET /admin/pds/resync', { status: 501, json: { error: 'NotImplemented' } })
    const old = await runAdmin(fake, ['host', 'resync-status', 'pds.example.com'])
    assert.equal(old.code, 3)
  })

  it('host resyncs: a table sorted by host, with a count line', async () => {
    fake.on('GET /admin/pds/resyncs', {
      json: {
        resyncs: [
          RUNNING,
          {
            ...RUNNING,
            pds: 'abc.example.org',
            status: 'done',
            numReposChecked: 1234567,
            numReposToResync: 12,
            numReposResynced: 12,
            numReposFailed: 0,
            statusChangedAt: '2025-12-31T01:00:00Z',
          },
        ],
      },
    })
    const run = await runAdmin(fake, ['host', 'resyncs'])
    assert.equal(run.code, 0, run.stderr)
    assert.equal(
      run.stdout,
      [
        'HOST             STATUS     CHECKED  TO RESYNC  RESYNCED  FAILED  CHANGED',
        'abc.example.org  done     1,234,567         12        12       0  1d ago',
        'pds.example.com  running      1,500          7         5       1  10m ago',
        '2 resyncs, 1 running',
        '',
      ].join('\n'),
    )
    fake.on('GET /admin/pds/resyncs', { json: { resyncs: [] } })
    assert.equal((await runAdmin(fake, ['host', 'resyncs'])).stdout, 'no host resyncs have run\n')
  })
})
