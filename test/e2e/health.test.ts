// `GET /xrpc/_health` names the part that fails (database, event log) with a short reason and no
// internals, and answers 503 while it fails.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { SERVER_HEADER } from '../../src/config/config.ts'
import { startMockPlc } from '../../src/identity/testing/mock-plc.ts'
import { startTestRelay } from '../support/relay-harness.ts'

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
