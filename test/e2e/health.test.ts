// `GET /xrpc/_health` names the part that fails (database, event log) with a short reason and no
// internals, and answers 503 while it fails; `relay health` asks the address the relay binds.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { promisify } from 'node:util'
import { SERVER_HEADER } from '../../src/config/config.ts'
import { startMockPlc } from '../../src/identity/testing/mock-plc.ts'
import { startTestRelay } from '../support/relay-harness.ts'
import { freePort, type RelayProcess, startRelayProcess } from '../support/relay-process.ts'

const ROOT = join(import.meta.dirname, '../..')
const run = promisify(execFile)

test('health: 200 with every check ok; 503 naming the database when it is gone', {
  timeout: 30_000,
}, async () => {
  const plc = await startMockPlc({})
  const relay = await startTestRelay({ plcUrl: plc.url })
  try {
    const ok = await fetch(`${relay.url}/xrpc/_health`)
    assert.equal(ok.status, 200)
    assert.equal(ok.headers.get('server'), SERVER_HEADER)
    const okBody = (await ok.json()) as Record<string, unknown>
    assert.equal(okBody.status, 'ok')
    assert.deepEqual(okBody.checks, { database: 'ok', eventlog: 'ok' })
    assert.equal(okBody.message, undefined)

    await relay.relay.db.close()
    const bad = await fetch(`${relay.url}/xrpc/_health`)
    assert.equal(bad.status, 503)
    const body = (await bad.json()) as Record<string, unknown>
    assert.equal(body.status, 'error')
    assert.deepEqual(body.checks, { database: 'failing', eventlog: 'ok' })
    assert.equal(body.message, 'database: not responding')
    assert.doesNotMatch(JSON.stringify(body), /sqlite|\/tmp|closed/i, 'no internals')
  } finally {
    await relay.close().catch(() => {})
    await plc.close()
  }
})

test('relay health asks the address the relay binds (from .env), and fails when it is down', {
  timeout: 60_000,
}, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'relay-health-'))
  const plc = await startMockPlc({})
  let relay: RelayProcess | undefined
  const health = () =>
    run(join(ROOT, 'relay'), ['health'], { cwd: dir, env: { PATH: process.env.PATH } }).then(
      (r) => ({ code: 0, out: r.stdout }),
      (e: { code: number; stderr: string }) => ({ code: e.code, out: e.stderr }),
    )
  try {
    // A loopback address other than 127.0.0.1: asking 127.0.0.1 would find nothing there.
    const port = await freePort('127.0.0.2')
    await writeFile(join(dir, '.env'), `RELAY_ADMIN_PASSWORD=k\nRELAY_API_BIND=127.0.0.2:${port}\n`)
    relay = await startRelayProcess(dir, plc.url, [], { bindAndKeyFromDotenv: true })
    assert.equal(new URL(relay.url).hostname, '127.0.0.2')
    const up = await health()
    assert.equal(up.code, 0, up.out)
    assert.match(up.out, /"status":"ok"/)
    relay.child.kill('SIGKILL')
    await relay.exited
    const down = await health()
    assert.equal(down.code, 1)
    assert.match(down.out, new RegExp(`127\\.0\\.0\\.2:${port}.*ECONNREFUSED`))
  } finally {
    relay?.child.kill('SIGKILL')
    await plc.close()
    await rm(dir, { recursive: true, force: true })
  }
})
