// Every `relay admin` subcommand sends exactly the request docs/admin-api.md specifies: method,
// path, query parameters, JSON body (and its Content-Type) and the Bearer admin key.
import assert from 'node:assert/strict'
import { afterEach, beforeEach, describe, it } from 'node:test'
import { ADMIN_COMMANDS } from '../admin-cli.ts'
import { type CannedAnswer, FakeAdminServer } from './fake-admin-server.ts'
import { runAdmin } from './testing.ts'

const OK: CannedAnswer = { json: { success: 'true' } }
const DID = 'did:plc:ewvi7nxzyoun6zhxrhs64oiz'

interface Case {
  readonly argv: readonly string[]
  readonly method: 'GET' | 'POST'
  readonly path: string
  readonly query?: Record<string, string>
  readonly body?: unknown
  readonly answer?: CannedAnswer
}

const HOST_RECORD = { Host: 'pds.example.com', Status: 'active', RepoCount: 1, RepoLimit: 10 }

const CASES: readonly Case[] = [
  {
    argv: ['host', 'add', 'pds.example.com'],
    method: 'POST',
    path: '/admin/pds/requestCrawl',
    body: { hostname: 'pds.example.com' },
  },
  {
    argv: ['host', 'list'],
    method: 'GET',
    path: '/admin/pds/list',
    answer: { json: [HOST_RECORD] },
  },
  {
    argv: ['host', 'block', 'pds.example.com'],
    method: 'POST',
    path: '/admin/pds/block',
    query: { host: 'pds.example.com' },
  },
  {
    argv: ['host', 'unblock', 'pds.example.com'],
    method: 'POST',
    path: '/admin/pds/unblock',
    query: { host: 'pds.example.com' },
  },
  {
    argv: ['host', 'kill', 'pds.example.com'],
    method: 'POST',
    path: '/admin/subs/killUpstream',
    query: { host: 'pds.example.com' },
  },
  {
    argv: ['host', 'kill', 'pds.example.com', '--block'],
    method: 'POST',
    path: '/admin/subs/killUpstream',
    query: { host: 'pds.example.com', block: 'true' },
  },
  {
    argv: [
      'host',
      'limits',
      'pds.example.com',
      '--per-second',
      '100',
      '--per-hour',
      '360000',
      '--per-day',
      '8000000',
      '--crawl-rate',
      '10',
      '--repo-limit',
      '5000',
      '--sync-validation',
      'strict',
    ],
    method: 'POST',
    path: '/admin/pds/changeLimits',
    body: {
      host: 'pds.example.com',
      per_second: 100,
      per_hour: 360000,
      per_day: 8000000,
      crawl_rate: 10,
      repo_limit: 5000,
      sync_validation: 'strict',
    },
  },
  {
    argv: ['host', 'limits', 'pds.example.com', '--repo-limit=7'],
    method: 'POST',
    path: '/admin/pds/changeLimits',
    body: { host: 'pds.example.com', repo_limit: 7 },
  },
  {
    argv: ['host', 'limits', 'pds.example.com'],
    method: 'GET',
    path: '/admin/pds/list',
    answer: { json: [HOST_RECORD] },
  },
  {
    argv: ['host', 'reset-cursor', 'pds.example.com'],
    method: 'POST',
    path: '/admin/pds/resetCursor',
    query: { host: 'pds.example.com' },
  },
  {
    argv: ['host', 'trust', 'example.com'],
    method: 'POST',
    path: '/admin/pds/addTrustedDomain',
    query: { domain: 'example.com' },
  },
  {
    argv: ['host', 'untrust', 'example.com'],
    method: 'POST',
    path: '/admin/pds/removeTrustedDomain',
    query: { domain: 'example.com' },
  },
  {
    argv: ['host', 'trusted'],
    method: 'GET',
    path: '/admin/pds/trustedDomains',
    answer: { json: { trusted_domains: [] } },
  },
  {
    argv: ['host', 'connected'],
    method: 'GET',
    path: '/admin/subs/getUpstreamConns',
    answer: { json: [] },
  },
  {
    argv: ['host', 'resync', 'pds.example.com'],
    method: 'POST',
    path: '/admin/pds/resync',
    query: { host: 'pds.example.com' },
  },
  {
    argv: ['host', 'resync-status', 'pds.example.com'],
    method: 'GET',
    path: '/admin/pds/resync',
    query: { host: 'pds.example.com' },
    answer: { json: { resync: { status: 'done' } } },
  },
  {
    argv: ['host', 'resyncs'],
    method: 'GET',
    path: '/admin/pds/resyncs',
    answer: { json: { resyncs: [] } },
  },
  {
    argv: ['domain', 'ban', 'spam.example'],
    method: 'POST',
    path: '/admin/subs/banDomain',
    body: { Domain: 'spam.example' },
  },
  {
    argv: ['domain', 'unban', 'spam.example'],
    method: 'POST',
    path: '/admin/subs/unbanDomain',
    body: { Domain: 'spam.example' },
  },
  {
    argv: ['domain', 'bans'],
    method: 'GET',
    path: '/admin/subs/listDomainBans',
    answer: { json: { banned_domains: [] } },
  },
  {
    argv: ['repo', 'takedown', DID],
    method: 'POST',
    path: '/admin/repo/takeDown',
    body: { did: DID },
  },
  {
    argv: ['repo', 'untakedown', DID],
    method: 'POST',
    path: '/admin/repo/reverseTakedown',
    body: { did: DID },
  },
  {
    argv: ['repo', 'takedowns'],
    method: 'GET',
    path: '/admin/repo/takedowns',
    answer: { json: { dids: [] } },
  },
  {
    argv: ['repo', 'takedowns', '--cursor', 'abc'],
    method: 'GET',
    path: '/admin/repo/takedowns',
    query: { cursor: 'abc' },
    answer: { json: { dids: [] } },
  },
  {
    argv: ['repo', 'status', DID],
    method: 'GET',
    path: '/admin/repo/status',
    query: { did: DID },
    answer: { json: { did: DID } },
  },
  {
    argv: ['repo', 'refresh', DID],
    method: 'POST',
    path: '/admin/repo/refresh',
    query: { did: DID },
    answer: { json: { did: DID } },
  },
  {
    argv: ['repo', 'resync', DID],
    method: 'POST',
    path: '/admin/repo/resync',
    body: { did: DID },
    answer: { json: { did: DID, result: 'synced', rev: '3lbt5bkqqbs2a' } },
  },
  {
    argv: ['repo', 'compact', DID],
    method: 'POST',
    path: '/admin/repo/compact',
    body: { did: DID },
    answer: { json: { did: DID, removed: 0, kept: 3 } },
  },
  { argv: ['repo', 'compact-all'], method: 'POST', path: '/admin/repo/compactAll' },
  {
    argv: ['repo', 'compact-status'],
    method: 'GET',
    path: '/admin/repo/compactAll',
    answer: { json: { compaction: { status: 'idle' } } },
  },
  {
    argv: ['archive'],
    method: 'GET',
    path: '/admin/archive',
    answer: { json: { archive: { enabled: false }, compaction: null, repairs: {} } },
  },
  { argv: ['consumers'], method: 'GET', path: '/admin/consumers/list', answer: { json: [] } },
  {
    argv: ['crawl', 'enable'],
    method: 'POST',
    path: '/admin/subs/setEnabled',
    query: { enabled: 'true' },
  },
  {
    argv: ['crawl', 'disable'],
    method: 'POST',
    path: '/admin/subs/setEnabled',
    query: { enabled: 'false' },
  },
  {
    argv: ['crawl', 'per-day-limit'],
    method: 'GET',
    path: '/admin/subs/perDayLimit',
    answer: { json: { limit: 50 } },
  },
  {
    argv: ['crawl', 'per-day-limit', '100'],
    method: 'POST',
    path: '/admin/subs/setPerDayLimit',
    query: { limit: '100' },
  },
  {
    argv: ['stats'],
    method: 'GET',
    path: '/admin/stats',
    answer: { json: { step: 10, series: {} } },
  },
  {
    argv: ['stats', '--window', '6h', '--step', '1m'],
    method: 'GET',
    path: '/admin/stats',
    query: { window: '6h', step: '1m' },
    answer: { json: { step: 60, series: {} } },
  },
  {
    argv: ['pull-hosts', '--status'],
    method: 'GET',
    path: '/admin/pds/pullHosts',
    answer: { json: { status: 'done' } },
  },
  {
    argv: ['pull-hosts', '--from', 'https://relay.example', '--no-wait'],
    method: 'POST',
    path: '/admin/pds/pullHosts',
    body: { from: 'https://relay.example' },
  },
]

describe('relay admin: requests', () => {
  let fake: FakeAdminServer
  beforeEach(async () => {
    fake = await FakeAdminServer.start('secret-key')
  })
  afterEach(() => fake.close())

  for (const c of CASES) {
    it(`${c.argv.join(' ')} → ${c.method} ${c.path}`, async () => {
      fake.on(`${c.method} ${c.path}`, c.answer ?? OK)
      const run = await runAdmin(fake, c.argv)
      assert.equal(run.code, 0, run.stderr)
      const req = fake.only()
      assert.equal(req.method, c.method)
      assert.equal(req.path, c.path)
      assert.deepEqual(req.query, c.query ?? {})
      assert.deepEqual(req.body, c.body)
      if (c.body !== undefined) assert.equal(req.contentType, 'application/json')
      else assert.equal(req.rawBody, '')
      assert.equal(req.authorization, 'Bearer secret-key')
    })
  }

  it('crawl status asks for the switch and the per-day limit', async () => {
    fake.on('GET /admin/subs/getEnabled', { json: { enabled: true } })
    fake.on('GET /admin/subs/perDayLimit', { json: { limit: 50 } })
    const run = await runAdmin(fake, ['crawl', 'status'])
    assert.equal(run.code, 0, run.stderr)
    assert.deepEqual(
      fake.requests.map((r) => `${r.method} ${r.path} ${r.authorization}`),
      [
        'GET /admin/subs/getEnabled Bearer secret-key',
        'GET /admin/subs/perDayLimit Bearer secret-key',
      ],
    )
  })

  it('every subcommand is covered by a case above', () => {
    const covered = new Set([...CASES.map((c) => c.argv.slice(0, 2).join(' ')), 'crawl status'])
    for (const spec of ADMIN_COMMANDS) {
      const name = spec.words.join(' ')
      assert.ok(
        [...covered].some((c) => c === name || c.startsWith(`${name} `)),
        `no request case for "${name}"`,
      )
    }
  })
})
