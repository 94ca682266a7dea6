// `relay admin pull-hosts`: starts the pull, then polls progress, printing a line when it
// changes, until the relay says it is finished (exit 0) or failed (exit 1), or --timeout passes.
// Polls are driven by the fake's scripted answers; the test's `sleep` returns at once.
import assert from 'node:assert/strict'
import { afterEach, beforeEach, describe, it } from 'node:test'
import { FakeAdminServer } from './fake-admin-server.ts'
import { progressLine, progressOf, stateOf } from './pull-hosts.ts'
import { runAdmin } from './testing.ts'

const FROM = 'https://relay1.example.net'

describe('relay admin pull-hosts', () => {
  let fake: FakeAdminServer
  beforeEach(async () => {
    fake = (await FakeAdminServer.start()).on('POST /admin/pds/pullHosts', {
      json: { success: 'true' },
    })
  })
  afterEach(() => fake.close())

  it('POSTs {from}, then polls GET until done, printing each change once', async () => {
    fake.on(
      'GET /admin/pds/pullHosts',
      { json: { status: 'running', pages: 1, added: 10, skipped: 0 } },
      { json: { status: 'running', pages: 1, added: 10, skipped: 0 } },
      { json: { status: 'running', pages: 2, added: 150, skipped: 3 } },
      { json: { status: 'done', pages: 3, added: 201, skipped: 4 } },
    )
    const run = await runAdmin(fake, ['pull-hosts', '--from', FROM, '--interval', '1'])
    assert.equal(run.code, 0, run.stderr)
    assert.deepEqual(
      fake.requests.map((r) => `${r.method} ${r.path}`),
      [
        'POST /admin/pds/pullHosts',
        'GET /admin/pds/pullHosts',
        'GET /admin/pds/pullHosts',
        'GET /admin/pds/pullHosts',
        'GET /admin/pds/pullHosts',
      ],
    )
    assert.deepEqual(fake.requests[0]?.body, { from: FROM })
    assert.ok(fake.requests.every((r) => r.authorization === 'Bearer secret-key'))
    assert.equal(run.sleeps, 3)
    assert.equal(
      run.stdout,
      [
        `pulling hosts from ${FROM} (Ctrl-C stops watching, not the pull)`,
        'running — pages 1, added 10, skipped 0',
        'running — pages 2, added 150, skipped 3',
        'done — pages 3, added 201, skipped 4',
        '',
      ].join('\n'),
    )
  })

  it('a failed pull exits 1 with the relay’s error', async () => {
    fake.on(
      'GET /admin/pds/pullHosts',
      { json: { pullHosts: { status: 'running', added: 1 } } },
      { json: { pullHosts: { status: 'failed', added: 1, error: 'listHosts answered 502' } } },
    )
    const run = await runAdmin(fake, ['pull-hosts', '--from', FROM])
    assert.equal(run.code, 1)
    assert.match(run.stderr, /pull-hosts failed: failed — added 1 — error: listHosts answered 502/)
  })

  it('--timeout bounds the watching (exit 1, the pull goes on)', async () => {
    fake.on('GET /admin/pds/pullHosts', { json: { status: 'running', added: 1 } })
    const run = await runAdmin(fake, ['pull-hosts', '--from', FROM, '--timeout', '0'])
    assert.equal(run.code, 1)
    assert.match(run.stderr, /still running after 0 s; the relay keeps pulling/)
    assert.equal(fake.requests.length, 2)
  })

  it('--json prints the final progress object only', async () => {
    fake.on(
      'GET /admin/pds/pullHosts',
      { json: { running: true, added: 1 } },
      { json: { running: false, added: 2 } },
    )
    const run = await runAdmin(fake, ['pull-hosts', '--from', FROM, '--json'])
    assert.equal(run.code, 0, run.stderr)
    assert.deepEqual(JSON.parse(run.stdout), { running: false, added: 2 })
  })

  it('an error starting the pull is reported and nothing is polled', async () => {
    fake.on('POST /admin/pds/pullHosts', {
      status: 409,
      json: { error: 'Conflict', message: 'a pull is already running' },
    })
    const run = await runAdmin(fake, ['pull-hosts', '--from', FROM])
    assert.equal(run.code, 1)
    assert.match(run.stderr, /HTTP 409 Conflict a pull is already running/)
    assert.equal(fake.requests.length, 1)
  })

  it('reads the progress object loosely', () => {
    assert.deepEqual(progressOf({ pullHosts: { status: 'done' } }), { status: 'done' })
    assert.equal(stateOf({ status: 'Completed' }), 'finished')
    assert.equal(stateOf({ state: 'error' }), 'failed')
    assert.equal(stateOf({ status: 'listing' }), 'running')
    assert.equal(stateOf({ done: false }), 'running')
    assert.equal(stateOf({ finishedAt: null }), 'running')
    assert.equal(stateOf({ finishedAt: '2026-01-01T00:00:00Z' }), 'finished')
    assert.equal(stateOf({ added: 3 }), 'unknown')
    assert.equal(
      progressLine({ status: 'running', added: 1200, from: 'x' }),
      'running — added 1,200',
    )
  })
})
