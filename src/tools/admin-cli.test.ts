// `relay admin` as a whole: help, usage errors (exit 2), where the relay URL and the key come
// from, and how failures reach the operator: 401, 400 with a message, an unreachable relay
// (exit 1), a route the relay does not offer (exit 3).
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createServer } from 'node:net'
import { afterEach, beforeEach, describe, it } from 'node:test'
import { FakeAdminServer } from './admin/fake-admin-server.ts'
import { runAdmin } from './admin/testing.ts'
import { adminCommand, relayUrlFrom } from './admin-cli.ts'

describe('relay admin', () => {
  let fake: FakeAdminServer
  beforeEach(async () => {
    fake = await FakeAdminServer.start('secret-key')
  })
  afterEach(() => fake.close())

  describe('help and usage', () => {
    it('--help lists every command group and the exit codes, without a key or a request', async () => {
      const run = await runAdmin(fake, ['--help'], {})
      assert.equal(run.code, 0)
      for (const word of [
        'host list',
        'domain ban',
        'repo takedown',
        'crawl per-day-limit',
        'pull-hosts',
        'consumers',
      ])
        assert.match(run.stdout, new RegExp(word))
      assert.match(run.stdout, /exit codes: 0 ok/)
      assert.equal(fake.requests.length, 0)
    })

    it('a subcommand --help (or help SUBCOMMAND) shows its usage, flags and example', async () => {
      for (const argv of [
        ['host', 'limits', '--help'],
        ['help', 'host', 'limits'],
        ['host', 'limits', '-h'],
      ]) {
        const run = await runAdmin(fake, argv, {})
        assert.equal(run.code, 0)
        assert.match(run.stdout, /usage: relay admin host limits HOST .*\[--per-second N\]/)
        assert.match(run.stdout, /--sync-validation MODE +auto, strict or lenient/)
        assert.match(run.stdout, /example: relay admin host limits pds\.example\.com/)
      }
      const group = await runAdmin(fake, ['repo', '--help'], {})
      assert.equal(group.code, 0)
      assert.match(group.stdout, /repo takedowns/)
      assert.doesNotMatch(group.stdout, /host list/)
    })

    it('no command, unknown command, missing subcommand, bad arguments: exit 2 and no request', async () => {
      const cases: [string[], RegExp][] = [
        [[], /usage: relay admin/],
        [['frobnicate'], /unknown command "frobnicate"/],
        [['host'], /relay admin host: missing subcommand[\s\S]*host list/],
        [['host', 'explode'], /unknown subcommand "explode"/],
        [['host', 'block'], /relay admin host block: missing HOST/],
        [['host', 'block', 'a', 'b'], /unexpected argument "b"/],
        [['host', 'list', '--bogus'], /unknown option --bogus/],
        [
          ['host', 'limits', 'h', '--per-second', 'lots'],
          /--per-second must be a non-negative integer/,
        ],
        [['host', 'limits', 'h', '--sync-validation', 'maybe'], /auto, strict or lenient/],
        [['host', 'limits', 'h', '--per-second'], /--per-second needs a value/],
        [['repo', 'takedown', 'alice.example.com'], /is not a DID/],
        [['crawl', 'per-day-limit', '-5'], /N must be a non-negative integer/],
        [['pull-hosts'], /--from URL is required/],
        [['pull-hosts', '--from', 'relay.example'], /must be an http\(s\) URL/],
        [['--json=yes', 'host', 'list'], /--json takes no value/],
      ]
      for (const [argv, message] of cases) {
        const run = await runAdmin(fake, argv)
        assert.equal(run.code, 2, `${argv.join(' ')}: ${run.stderr}`)
        assert.match(run.stderr, message, argv.join(' '))
      }
      assert.equal(fake.requests.length, 0)
    })

    it('without an admin key: exit 2 naming the flag and variable', async () => {
      const run = await runAdmin(fake, ['host', 'list'], {})
      assert.equal(run.code, 2)
      assert.match(run.stderr, /no admin key: pass --admin-key KEY or set RELAY_ADMIN_KEY/)
      assert.equal(fake.requests.length, 0)
    })
  })

  describe('relay URL and key', () => {
    it('--admin-key wins over the environment; RELAY_ADMIN_PASSWORD and the first of a list work', async () => {
      fake.on('GET /admin/subs/getUpstreamConns', { json: [] })
      const envs: [Record<string, string>, string[], string][] = [
        [{ RELAY_ADMIN_KEY: 'wrong' }, ['--admin-key', 'secret-key'], 'Bearer secret-key'],
        [{ RELAY_ADMIN_PASSWORD: 'secret-key' }, [], 'Bearer secret-key'],
        [{ RELAY_ADMIN_KEY: 'secret-key, older-key' }, [], 'Bearer secret-key'],
      ]
      for (const [env, flags, header] of envs) {
        fake.requests.length = 0
        const run = await runAdmin(fake, [...flags, 'host', 'connected'], env)
        assert.equal(run.code, 0, run.stderr)
        assert.equal(fake.only().authorization, header)
      }
    })

    it('RELAY_URL is the default relay; flags may follow the subcommand', async () => {
      fake.on('GET /admin/subs/getUpstreamConns', { json: ['a.example'] })
      let out = ''
      const code = await adminCommand(
        ['host', 'connected', '--json'],
        { RELAY_URL: fake.url, RELAY_ADMIN_KEY: 'secret-key' },
        { stdout: { write: (s: string) => (out += s) }, stderr: { write: () => {} }, fetch },
      )
      assert.equal(code, 0)
      assert.deepEqual(JSON.parse(out), ['a.example'])
    })

    it('relayUrlFrom: bare hosts get https, localhost gets http; bad URLs are usage errors', () => {
      assert.equal(relayUrlFrom('relay.example.com'), 'https://relay.example.com')
      assert.equal(relayUrlFrom('localhost:2470'), 'http://localhost:2470')
      assert.equal(relayUrlFrom('127.0.0.1:2470/'), 'http://127.0.0.1:2470')
      assert.equal(relayUrlFrom('http://relay.internal:8080/'), 'http://relay.internal:8080')
      assert.throws(() => relayUrlFrom('ftp://relay.example.com'), { name: 'UsageError' })
      assert.throws(() => relayUrlFrom('https://'), { name: 'UsageError' })
    })
  })

  describe('errors', () => {
    it('401: exit 1 saying the key was refused', async () => {
      const run = await runAdmin(fake, ['host', 'list'], { RELAY_ADMIN_KEY: 'nope' })
      assert.equal(run.code, 1)
      assert.equal(fake.only().authorization, 'Bearer nope')
      assert.match(
        run.stderr,
        /refused the admin key \(HTTP 401 Unauthorized missing or wrong admin key\)/,
      )
    })

    it('400 with an error and message: exit 1 showing the route, status, error and message', async () => {
      fake.on('POST /admin/pds/requestCrawl', {
        status: 400,
        json: { error: 'InvalidRequest', message: 'not a valid hostname' },
      })
      const run = await runAdmin(fake, ['host', 'add', 'bad_host'])
      assert.equal(run.code, 1)
      assert.equal(
        run.stderr.trim(),
        'relay admin host add: POST /admin/pds/requestCrawl: HTTP 400 InvalidRequest not a valid hostname',
      )
      assert.equal(run.stdout, '')
    })

    it('500 with a text body: exit 1 with the text', async () => {
      fake.on('GET /admin/pds/list', { status: 502, text: 'Bad Gateway' })
      const run = await runAdmin(fake, ['host', 'list'])
      assert.equal(run.code, 1)
      assert.match(run.stderr, /HTTP 502 Bad Gateway/)
    })

    it('a 404 naming a thing is an error (1); a route the relay lacks is "not available" (3)', async () => {
      fake.on('GET /admin/repo/status', {
        status: 404,
        json: { error: 'RepoNotFound', message: 'unknown DID' },
      })
      const known = await runAdmin(fake, ['repo', 'status', 'did:plc:abc'])
      assert.equal(known.code, 1)
      assert.match(known.stderr, /HTTP 404 RepoNotFound unknown DID/)
      const lacking = await runAdmin(fake, ['repo', 'compact-all'])
      assert.equal(lacking.code, 3)
      assert.match(lacking.stderr, /compaction is not available on this relay/)
      fake.on('GET /admin/stats', { status: 501, json: { error: 'NotImplemented' } })
      const generic = await runAdmin(fake, ['stats'])
      assert.equal(generic.code, 3)
      assert.match(
        generic.stderr,
        /this relay does not offer GET \/admin\/stats \(HTTP 501 NotImplemented\)/,
      )
    })

    it('connection refused: exit 1 naming the relay URL', async () => {
      const probe = createServer().listen(0, '127.0.0.1')
      await once(probe, 'listening')
      const port = (probe.address() as { port: number }).port
      await new Promise((resolve) => probe.close(resolve))
      const run = await runAdmin({ url: `http://127.0.0.1:${port}` }, ['host', 'list'])
      assert.equal(run.code, 1)
      assert.match(
        run.stderr,
        new RegExp(`cannot reach the relay at http://127\\.0\\.0\\.1:${port}: .*ECONNREFUSED`),
      )
    })

    it('a 2xx answer of the wrong shape: exit 1 saying what was expected', async () => {
      fake.on('GET /admin/pds/list', { json: { hosts: [] } })
      const run = await runAdmin(fake, ['host', 'list'])
      assert.equal(run.code, 1)
      assert.match(run.stderr, /did not answer an array of hosts/)
    })
  })
})
