// The operator scripts at the repository root (crawl_pds.sh, sync_pds.sh, sync_status_pds.sh),
// run with bash and curl against a fake admin server: the exact requests they send, what they
// print, usage errors (exit 2), relay errors (exit 1) and resync not being available (exit 3).
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, it } from 'node:test'
import { FakeAdminServer } from './admin/fake-admin-server.ts'

const ROOT = join(import.meta.dirname, '..', '..')

interface ScriptRun {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/** Runs a script with bash (asynchronously: the fake server lives in this process). */
function runScript(
  script: string,
  args: readonly string[],
  env: Readonly<Record<string, string>>,
): Promise<ScriptRun> {
  return new Promise((resolve, reject) => {
    execFile(
      'bash',
      [join(ROOT, script), ...args],
      { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, timeout: 30_000 },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== 'number') return reject(err)
        resolve({ code: err ? Number(err.code) : 0, stdout, stderr })
      },
    )
  })
}

describe('operator scripts', () => {
  let fake: FakeAdminServer
  let env: Record<string, string>
  beforeEach(async () => {
    fake = await FakeAdminServer.start('s3cret key')
    env = { RELAY_HOST: fake.hostPort, RELAY_ADMIN_KEY: 's3cret key' }
  })
  afterEach(() => fake.close())

  describe('crawl_pds.sh', () => {
    it('requestCrawl, then changeLimits with the generous defaults', async () => {
      fake.on('POST /admin/pds/requestCrawl', { json: { success: 'true' } })
      fake.on('POST /admin/pds/changeLimits', { json: { success: 'true' } })
      const run = await runScript('crawl_pds.sh', ['pds.example.com\r'], env)
      assert.equal(run.code, 0, run.stderr)
      assert.equal(fake.requests.length, 2)
      const [crawl, limits] = fake.requests
      assert.equal(crawl?.method, 'POST')
      assert.equal(crawl?.path, '/admin/pds/requestCrawl')
      assert.deepEqual(crawl?.body, { hostname: 'pds.example.com' })
      assert.equal(limits?.method, 'POST')
      assert.equal(limits?.path, '/admin/pds/changeLimits')
      assert.deepEqual(limits?.body, {
        host: 'pds.example.com',
        per_second: 100,
        per_hour: 1_000_000,
        per_day: 10_000_000,
        crawl_rate: 10,
        repo_limit: 1_000_000,
      })
      for (const r of fake.requests) {
        assert.equal(r.authorization, 'Bearer s3cret key')
        assert.equal(r.contentType, 'application/json')
        assert.deepEqual(r.query, {})
      }
      assert.equal(
        run.stdout,
        '/admin/pds/requestCrawl pds.example.com: {"success":"true"}\n' +
          '/admin/pds/changeLimits pds.example.com: {"success":"true"}\n',
      )
    })

    it('limits can be overridden from the environment; localhost:PORT hosts are accepted', async () => {
      fake.on('POST /admin/pds/requestCrawl', { json: { success: 'true' } })
      fake.on('POST /admin/pds/changeLimits', { json: { success: 'true' } })
      const run = await runScript('crawl_pds.sh', ['localhost:2583'], {
        ...env,
        PDS_PER_SECOND: '5',
        PDS_REPO_LIMIT: '20',
      })
      assert.equal(run.code, 0, run.stderr)
      assert.deepEqual(fake.requests[1]?.body, {
        host: 'localhost:2583',
        per_second: 5,
        per_hour: 1_000_000,
        per_day: 10_000_000,
        crawl_rate: 10,
        repo_limit: 20,
      })
    })

    it('a refused requestCrawl exits 1 with the relay’s message and sets no limits', async () => {
      fake.on('POST /admin/pds/requestCrawl', {
        status: 400,
        json: { error: 'HostBanned', message: 'domain is banned' },
      })
      const run = await runScript('crawl_pds.sh', ['pds.example.com'], env)
      assert.equal(run.code, 1)
      assert.match(
        run.stderr,
        /POST \/admin\/pds\/requestCrawl for pds\.example\.com failed: HTTP 400 .*domain is banned/,
      )
      assert.equal(fake.requests.length, 1)
    })

    it('a wrong key exits 1 showing the 401', async () => {
      const run = await runScript('crawl_pds.sh', ['pds.example.com'], {
        ...env,
        RELAY_ADMIN_KEY: 'wrong',
      })
      assert.equal(run.code, 1)
      assert.match(run.stderr, /HTTP 401 .*Unauthorized/)
    })
  })

  describe('usage', () => {
    for (const script of ['crawl_pds.sh', 'sync_pds.sh', 'sync_status_pds.sh']) {
      it(`${script}: usage errors exit 2 without a request`, async () => {
        const cases: [string[], Record<string, string>, RegExp][] = [
          [[], env, /usage: .* PDS_HOSTNAME/],
          [['a.example', 'b.example'], env, /usage:/],
          [['https://pds.example.com'], env, /not a bare hostname/],
          [['pds.example.com/x'], env, /not a bare hostname/],
          [['pds.example.com'], { RELAY_HOST: fake.hostPort }, /RELAY_ADMIN_KEY is not set/],
          [['pds.example.com'], { RELAY_ADMIN_KEY: 'k' }, /RELAY_HOST is not set/],
        ]
        for (const [args, e, message] of cases) {
          const run = await runScript(script, args, e)
          assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`)
          assert.match(run.stderr, message)
        }
        assert.equal(fake.requests.length, 0)
      })
    }
  })

  describe('sync_pds.sh and sync_status_pds.sh', () => {
    const RUNNING = {
      pds: 'pds.example.com',
      numRepoPages: 0,
      numRepos: 0,
      numReposChecked: 0,
      numReposToResync: 0,
      numReposResynced: 0,
      numReposFailed: 0,
      status: 'running',
      statusChangedAt: '2026-01-01T00:50:00.000Z',
      lastError: null,
    }
    const progress = (extra: Record<string, unknown>) => ({
      json: { resync: { ...RUNNING, ...extra } },
    })
    const LINE0 =
      'pds.example.com: running since 2026-01-01T00:50:00.000Z: checked 0 of 0 repos (0 pages), ' +
      '0 to resync: 0 resynced, 0 failed\n'

    it('sync_pds.sh POSTs resync?host= and prints the progress as one line', async () => {
      fake.on('POST /admin/pds/resync', progress({}))
      const run = await runScript('sync_pds.sh', ['pds.example.com'], env)
      assert.equal(run.code, 0, run.stderr)
      const req = fake.only()
      assert.equal(req.method, 'POST')
      assert.equal(req.path, '/admin/pds/resync')
      assert.deepEqual(req.query, { host: 'pds.example.com' })
      assert.equal(req.rawBody, '')
      assert.equal(req.authorization, 'Bearer s3cret key')
      assert.equal(run.stdout, LINE0)
    })

    it('sync_pds.sh with RESYNC_WAIT polls until the resync ends, a line per change', async () => {
      fake.on('POST /admin/pds/resync', progress({}))
      const page = { numRepoPages: 1, numRepos: 500, numReposChecked: 500, numReposToResync: 3 }
      fake.on(
        'GET /admin/pds/resync',
        progress({}),
        progress({ ...page, numReposResynced: 2, numReposFailed: 1 }),
        progress({
          ...page,
          numReposResynced: 2,
          numReposFailed: 1,
          status: 'done',
          statusChangedAt: '2026-01-01T00:51:00.000Z',
        }),
      )
      const run = await runScript('sync_pds.sh', ['pds.example.com'], { ...env, RESYNC_WAIT: '0' })
      assert.equal(run.code, 0, run.stderr)
      assert.equal(
        run.stdout,
        LINE0 +
          'pds.example.com: running since 2026-01-01T00:50:00.000Z: checked 500 of 500 repos ' +
          '(1 pages), 3 to resync: 2 resynced, 1 failed\n' +
          'pds.example.com: done since 2026-01-01T00:51:00.000Z: checked 500 of 500 repos ' +
          '(1 pages), 3 to resync: 2 resynced, 1 failed\n',
      )
      assert.deepEqual(
        fake.requests.map((r) => r.method),
        ['POST', 'GET', 'GET', 'GET'],
      )
    })

    it('sync_pds.sh with RESYNC_WAIT: a failed resync exits 1 and shows its last error', async () => {
      fake.on('POST /admin/pds/resync', progress({}))
      fake.on(
        'GET /admin/pds/resync',
        progress({
          status: 'failed',
          lastError: 'listRepos failed 3 times: HTTP 502 "Bad Gateway"',
        }),
      )
      const run = await runScript('sync_pds.sh', ['pds.example.com'], { ...env, RESYNC_WAIT: '0' })
      assert.equal(run.code, 1)
      assert.match(
        run.stdout,
        /: failed since .*; last error: listRepos failed 3 times: HTTP 502 "Bad Gateway"\n$/,
      )
      assert.match(run.stderr, /the resync of pds\.example\.com failed/)
      const bad = await runScript('sync_pds.sh', ['pds.example.com'], { ...env, RESYNC_WAIT: 'x' })
      assert.equal(bad.code, 2)
      assert.match(bad.stderr, /RESYNC_WAIT must be a number of seconds/)
    })

    it('sync_status_pds.sh GETs resync?host= and prints the progress line', async () => {
      fake.on(
        'GET /admin/pds/resync',
        progress({ numRepoPages: 3, numRepos: 1500, numReposChecked: 1500, status: 'done' }),
      )
      const run = await runScript('sync_status_pds.sh', ['pds.example.com'], env)
      assert.equal(run.code, 0, run.stderr)
      const req = fake.only()
      assert.equal(req.method, 'GET')
      assert.equal(req.path, '/admin/pds/resync')
      assert.deepEqual(req.query, { host: 'pds.example.com' })
      assert.equal(req.authorization, 'Bearer s3cret key')
      assert.equal(
        run.stdout,
        'pds.example.com: done since 2026-01-01T00:50:00.000Z: checked 1500 of 1500 repos ' +
          '(3 pages), 0 to resync: 0 resynced, 0 failed\n',
      )
    })

    it('sync_status_pds.sh: a host never resynced exits 1 saying how to start one', async () => {
      fake.on('GET /admin/pds/resync', {
        status: 404,
        json: { error: 'NotFound', message: 'no resync of route.example has run' },
      })
      const run = await runScript('sync_status_pds.sh', ['route.example'], env)
      assert.equal(run.code, 1, run.stderr)
      assert.match(
        run.stderr,
        /no resync of route\.example has run \(start one: \.\/sync_pds\.sh route\.example\)/,
      )
    })

    for (const script of ['sync_pds.sh', 'sync_status_pds.sh']) {
      const method = script === 'sync_pds.sh' ? 'POST' : 'GET'

      it(`${script}: exit 3 only when the relay lacks the route (404 no such route, 405, 501)`, async () => {
        const missing = await runScript(script, ['pds.example.com'], env)
        assert.equal(missing.code, 3, missing.stderr)
        assert.match(
          missing.stderr,
          /resync is not available on this relay \(a version before resync\) \(HTTP 404/,
        )
        for (const answer of [
          { status: 501, json: { error: 'NotImplemented' } },
          { status: 405, json: { error: 'MethodNotAllowed' } },
          { status: 404, text: 'Not Found' },
        ]) {
          fake.on(`${method} /admin/pds/resync`, answer)
          const old = await runScript(script, ['pds.example.com'], env)
          assert.equal(old.code, 3, `${answer.status}: ${old.stderr}`)
          assert.equal(old.stdout, '')
        }
      })

      it(`${script}: other errors exit 1`, async () => {
        fake.on(`${method} /admin/pds/resync`, {
          status: 400,
          json: { error: 'HostBanned', message: 'pds.example.com is banned' },
        })
        const run = await runScript(script, ['pds.example.com'], env)
        assert.equal(run.code, 1)
        assert.match(run.stderr, /failed: HTTP 400 .*HostBanned.*is banned/)
        fake.on(`${method} /admin/pds/resync`, {
          status: 404,
          json: { error: 'HostNotFound', message: 'host pds.example.com is not known' },
        })
        const unknown = await runScript(script, ['pds.example.com'], env)
        assert.equal(unknown.code, 1, 'a 404 naming a thing is not "resync unavailable"')
        assert.match(unknown.stderr, /failed: HTTP 404 .*HostNotFound/)
      })
    }

    it('an unreachable relay exits 1; RELAY_SCHEME overrides the scheme', async () => {
      const probe = createServer().listen(0, '127.0.0.1')
      await once(probe, 'listening')
      const port = (probe.address() as { port: number }).port
      await new Promise((resolve) => probe.close(resolve))
      const refused = await runScript('sync_status_pds.sh', ['pds.example.com'], {
        ...env,
        RELAY_HOST: `127.0.0.1:${port}`,
      })
      assert.equal(refused.code, 1)
      assert.match(
        refused.stderr,
        new RegExp(`cannot reach the relay at http://127\\.0\\.0\\.1:${port}`),
      )
      // https against the plain-HTTP fake: the TLS handshake fails, so https was used.
      const tls = await runScript('crawl_pds.sh', ['pds.example.com'], {
        ...env,
        RELAY_SCHEME: 'https',
      })
      assert.equal(tls.code, 1)
      assert.match(tls.stderr, new RegExp(`cannot reach the relay at https://${fake.hostPort}`))
    })
  })
})
