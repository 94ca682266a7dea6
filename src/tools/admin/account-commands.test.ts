// What the domain and repo commands print: domain bans, `repo takedowns` one page (with the
// next-page hint) and `--all` following cursors, an account's status as indented fields.
import assert from 'node:assert/strict'
import { afterEach, beforeEach, describe, it } from 'node:test'
import { FakeAdminServer } from './fake-admin-server.ts'
import { runAdmin } from './testing.ts'

describe('relay admin domain / repo: output', () => {
  let fake: FakeAdminServer
  beforeEach(async () => {
    fake = await FakeAdminServer.start()
  })
  afterEach(() => fake.close())

  it('domain ban / bans', async () => {
    fake.on('POST /admin/subs/banDomain', { json: { success: 'true', disconnected: 2 } })
    fake.on('GET /admin/subs/listDomainBans', {
      json: { banned_domains: ['spam.example', 'bad.example'] },
    })
    const ban = await runAdmin(fake, ['domain', 'ban', 'spam.example'])
    assert.equal(ban.stdout, 'banned spam.example (2 hosts disconnected)\n')
    const json = await runAdmin(fake, ['domain', 'ban', 'spam.example', '--json'])
    assert.deepEqual(JSON.parse(json.stdout), { success: 'true', disconnected: 2 })
    const bans = await runAdmin(fake, ['domain', 'bans'])
    assert.equal(bans.stdout, 'spam.example\nbad.example\n2 banned\n')
  })

  it('repo takedowns: one page with a hint, or every page with --all', async () => {
    const pages = [
      { json: { dids: ['did:plc:a', 'did:plc:b'], cursor: 'c1' } },
      { json: { dids: ['did:plc:c'], cursor: 'c2' } },
      { json: { dids: [] } },
    ]
    fake.on('GET /admin/repo/takedowns', ...pages)
    const one = await runAdmin(fake, ['repo', 'takedowns'])
    assert.equal(
      one.stdout,
      'did:plc:a\ndid:plc:b\n2 taken down\nmore: relay admin repo takedowns --cursor c1\n',
    )
    fake.requests.length = 0
    fake.on('GET /admin/repo/takedowns', ...pages)
    const all = await runAdmin(fake, ['repo', 'takedowns', '--all', '--json'])
    assert.equal(all.code, 0, all.stderr)
    assert.deepEqual(JSON.parse(all.stdout), { dids: ['did:plc:a', 'did:plc:b', 'did:plc:c'] })
    assert.deepEqual(
      fake.requests.map((r) => r.query),
      [{}, { cursor: 'c1' }, { cursor: 'c2' }],
    )
  })

  it('repo takedowns --all stops when the relay repeats a cursor', async () => {
    fake.on('GET /admin/repo/takedowns', { json: { dids: ['did:plc:a'], cursor: 'same' } })
    const run = await runAdmin(fake, ['repo', 'takedowns', '--all'])
    assert.equal(run.code, 0, run.stderr)
    assert.equal(fake.requests.length, 2)
  })

  it('repo status: the answer as indented fields', async () => {
    fake.on('GET /admin/repo/status', {
      json: {
        did: 'did:plc:abc',
        host: 'pds.example.com',
        status: { local: 'active', upstream: 'deactivated' },
        rev: '3lbt5bkqqbs2a',
        throttled: false,
        recentDrops: [{ reason: 'stale-rev', count1h: 2 }],
        tags: [],
      },
    })
    const run = await runAdmin(fake, ['repo', 'status', 'did:plc:abc'])
    assert.equal(run.code, 0, run.stderr)
    assert.equal(
      run.stdout,
      [
        'did: did:plc:abc',
        'host: pds.example.com',
        'status:',
        '  local: active',
        '  upstream: deactivated',
        'rev: 3lbt5bkqqbs2a',
        'throttled: false',
        'recentDrops:',
        '  - reason: stale-rev',
        '    count1h: 2',
        'tags: (none)',
        '',
      ].join('\n'),
    )
  })
})
