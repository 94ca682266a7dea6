// What the archive commands print and how they end: one account's resync in each outcome (a
// failed or refused one is exit 1, even with --json), one repo's compaction, compaction of every
// repo with --wait, the archive's status in both modes, and ArchiveDisabled as one line naming
// --archive (exit 1) where exit 3 stays for a relay without the route.
import assert from 'node:assert/strict'
import { afterEach, beforeEach, describe, it } from 'node:test'
import { FakeAdminServer } from './fake-admin-server.ts'
import { runAdmin } from './testing.ts'

const DID = 'did:plc:ewvi7nxzyoun6zhxrhs64oiz'
const GIB = 1024 ** 3

const COMPACTION = {
  status: 'running',
  reposDone: 1200,
  blocksRemoved: 4567,
  bytesBefore: 1.5 * GIB,
  bytesAfter: null,
  startedAt: '2026-01-01T00:55:00Z',
  finishedAt: null,
  lastError: null,
}
const DONE = {
  ...COMPACTION,
  status: 'done',
  reposDone: 2000,
  bytesAfter: 1.2 * GIB,
  finishedAt: '2026-01-01T00:59:00Z',
}
const ARCHIVE_DISABLED = {
  status: 400,
  json: { error: 'ArchiveDisabled', message: 'archival mode is off on this relay (--archive)' },
}

describe('relay admin repo resync / compact / archive', () => {
  let fake: FakeAdminServer
  beforeEach(async () => {
    fake = await FakeAdminServer.start()
  })
  afterEach(() => fake.close())

  it('repo resync: each result in a line; failed and refused exit 1', async () => {
    const cases: [unknown, number, string, string][] = [
      [
        { did: DID, result: 'synced', rev: '3lbt5bkqqbs2a', records: 1234 },
        0,
        `resynced ${DID} at rev 3lbt5bkqqbs2a (1,234 records); announced with #sync\n`,
        '',
      ],
      [
        { did: DID, result: 'synced', rev: '3lbt5bkqqbs2a' },
        0,
        `resynced ${DID} at rev 3lbt5bkqqbs2a; announced with #sync\n`,
        '',
      ],
      [
        { did: DID, result: 'stale', rev: '3lbt5bkqqbs2a' },
        0,
        `${DID}: a newer commit than rev 3lbt5bkqqbs2a arrived meanwhile; it stays\n`,
        '',
      ],
      [
        {
          did: DID,
          result: 'failed',
          reason: 'bad-signature',
          detail: 'signature does not verify',
        },
        1,
        '',
        `relay admin repo resync: resync of ${DID} failed: bad-signature: signature does not verify\n`,
      ],
      [
        { did: DID, result: 'refused', rev: '3lbt5bkqqbs2a' },
        1,
        '',
        `relay admin repo resync: ${DID} is held back on this relay (taken down or throttled); nothing was taken in\n`,
      ],
    ]
    for (const [answer, code, stdout, stderr] of cases) {
      fake.on('POST /admin/repo/resync', { json: answer })
      const run = await runAdmin(fake, ['repo', 'resync', DID])
      assert.deepEqual([run.code, run.stdout, run.stderr], [code, stdout, stderr])
      const json = await runAdmin(fake, ['repo', 'resync', DID, '--json'])
      assert.equal(json.code, code)
      assert.deepEqual(JSON.parse(json.stdout), answer)
    }
    const bad = await runAdmin(fake, ['repo', 'resync', 'alice.example.com'])
    assert.equal(bad.code, 2)
    assert.match(bad.stderr, /is not a DID/)
  })

  it('repo compact: blocks removed and kept; a repo not mirrored is exit 1', async () => {
    fake.on('POST /admin/repo/compact', { json: { did: DID, removed: 1500, kept: 320 } })
    const run = await runAdmin(fake, ['repo', 'compact', DID])
    assert.equal(run.code, 0, run.stderr)
    assert.deepEqual(fake.only().body, { did: DID })
    assert.equal(run.stdout, `compacted ${DID}: 1,500 blocks removed, 320 kept\n`)
    fake.on('POST /admin/repo/compact', {
      status: 404,
      json: { error: 'RepoNotFound', message: `${DID} is not in the mirror` },
    })
    const missing = await runAdmin(fake, ['repo', 'compact', DID])
    assert.equal(missing.code, 1)
    assert.match(missing.stderr, /HTTP 404 RepoNotFound .* is not in the mirror/)
  })

  it('repo compact-all prints the progress; --wait follows it to the end', async () => {
    fake.on('POST /admin/repo/compactAll', { json: { compaction: COMPACTION } })
    const run = await runAdmin(fake, ['repo', 'compact-all'])
    assert.equal(run.code, 0, run.stderr)
    assert.equal(
      run.stdout,
      [
        'compaction: running (started 2026-01-01T00:55:00Z, 5m ago)',
        '1,200 repos done, 4,567 blocks removed, 1.5 GiB → …',
        '(see: relay admin repo compact-status)',
        '',
      ].join('\n'),
    )
    fake.on(
      'GET /admin/repo/compactAll',
      { json: { compaction: COMPACTION } },
      { json: { compaction: DONE } },
    )
    const wait = await runAdmin(fake, ['repo', 'compact-all', '--wait', '--interval', '1'])
    assert.equal(wait.code, 0, wait.stderr)
    assert.match(
      wait.stdout,
      /running: 1,200 repos done, 4,567 blocks removed, 1\.5 GiB → …\ndone: 2,000 repos done, 4,567 blocks removed, 1\.5 GiB → 1\.2 GiB\n$/,
    )
    assert.equal(wait.sleeps, 1)
  })

  it('repo compact-status: idle, done and failed', async () => {
    fake.on('GET /admin/repo/compactAll', {
      json: { compaction: { ...COMPACTION, status: 'idle', startedAt: null } },
    })
    const idle = await runAdmin(fake, ['repo', 'compact-status'])
    assert.equal(idle.stdout, 'compaction: idle (none has run since the relay started)\n')
    fake.on('GET /admin/repo/compactAll', { json: { compaction: DONE } })
    const done = await runAdmin(fake, ['repo', 'compact-status'])
    assert.equal(
      done.stdout,
      'compaction: done (finished 2026-01-01T00:59:00Z, 1m ago)\n' +
        '2,000 repos done, 4,567 blocks removed, 1.5 GiB → 1.2 GiB\n',
    )
    fake.on('GET /admin/repo/compactAll', {
      json: { compaction: { ...DONE, status: 'failed', lastError: 'Error: disk I/O error' } },
    })
    const failed = await runAdmin(fake, ['repo', 'compact-status'])
    assert.match(failed.stdout, /\nlast error: Error: disk I\/O error\n$/)
  })

  it('ArchiveDisabled: one line saying to start the relay with --archive, exit 1', async () => {
    fake.on('POST /admin/repo/compactAll', ARCHIVE_DISABLED)
    fake.on('GET /admin/repo/compactAll', ARCHIVE_DISABLED)
    fake.on('POST /admin/repo/compact', ARCHIVE_DISABLED)
    for (const argv of [
      ['repo', 'compact-all'],
      ['repo', 'compact-status'],
      ['repo', 'compact', DID],
    ]) {
      const run = await runAdmin(fake, [...argv, '--json'])
      assert.equal(run.code, 1, argv.join(' '))
      assert.equal(run.stdout, '')
      assert.equal(
        run.stderr,
        `relay admin ${argv.slice(0, 2).join(' ')}: archival mode is off on this relay: start the ` +
          'relay with --archive (RELAY_ARCHIVE=true) to mirror and compact repos\n',
      )
    }
  })

  it('a relay without the routes: exit 3 naming what is missing', async () => {
    const compact = await runAdmin(fake, ['repo', 'compact-all'])
    assert.equal(compact.code, 3)
    assert.match(compact.stderr, /compaction is not available on this relay/)
    const resync = await runAdmin(fake, ['repo', 'resync', DID])
    assert.equal(resync.code, 3)
    assert.match(resync.stderr, /resync is not available on this relay/)
    const archive = await runAdmin(fake, ['archive'])
    assert.equal(archive.code, 3)
    assert.match(archive.stderr, /archive status is not available on this relay/)
  })

  it('archive: on (repos, size, compaction, repairs) and off', async () => {
    const repairs = { queued: 3, running: 1, repaired: 120, failed: 2, overflow: 0 }
    fake.on('GET /admin/archive', {
      json: {
        archive: {
          enabled: true,
          repos: 52000,
          storageBytes: 3.25 * GIB,
          freeBytes: 300 * 1024 ** 2,
        },
        compaction: DONE,
        repairs,
      },
    })
    const on = await runAdmin(fake, ['archive'])
    assert.equal(on.code, 0, on.stderr)
    assert.equal(
      on.stdout,
      [
        'archival mode: on, 52,000 repos, 3.3 GiB on disk (300 MiB free for reuse)',
        'compaction: done (finished 2026-01-01T00:59:00Z, 1m ago)',
        '2,000 repos done, 4,567 blocks removed, 1.5 GiB → 1.2 GiB',
        'repairs: 3 queued, 1 running; since start 120 repaired, 2 failed attempts, 0 not queued (queue full)',
        '',
      ].join('\n'),
    )
    const off = { archive: { enabled: false }, compaction: null, repairs }
    fake.on('GET /admin/archive', { json: off })
    const run = await runAdmin(fake, ['archive'])
    assert.equal(run.code, 0, run.stderr)
    assert.equal(
      run.stdout,
      'archival mode: off (start the relay with --archive to mirror repos)\n' +
        'repairs: 3 queued, 1 running; since start 120 repaired, 2 failed attempts, 0 not queued (queue full)\n',
    )
    assert.deepEqual(JSON.parse((await runAdmin(fake, ['archive', '--json'])).stdout), off)
  })
})
