// OpenTelemetry tracing (issue 5): off by default; with OTEL_EXPORTER_OTLP_ENDPOINT set (here the
// equivalent flag), spans for event processing, identity resolution and XRPC/admin handlers reach
// an OTLP/HTTP collector (a fake one on loopback that records what it receives).
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { test } from 'node:test'
import { startMockPlc } from '../../src/identity/testing/mock-plc.ts'
import { encodeMessageFrame } from '../../src/protocol/frame.ts'
import { testDidDocument } from '../support/did-doc.ts'
import { FakePds } from '../support/fake-pds.ts'
import { eventually, startTestRelay } from '../support/relay-harness.ts'

const DID = 'did:plc:tttttttttttttttttttttttt'

test(
  'spans for events, identity resolution and handlers reach the OTLP collector',
  {
    timeout: 30_000,
  },
  () => spansReachCollector([]),
)

// The shards export their own spans (events and identity resolutions happen there).
test('the same with account shards', { timeout: 30_000 }, () =>
  spansReachCollector(['--account-shards', '2', '--upstream-threads', '0']),
)

async function spansReachCollector(flags: string[]): Promise<void> {
  const bodies: string[] = []
  const collector = createServer((req, res) => {
    let body = ''
    req.on('data', (c: Buffer) => (body += c.toString()))
    req.on('end', () => {
      if (req.url === '/v1/traces') bodies.push(body)
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}')
    })
  })
  await new Promise<void>((r) => collector.listen(0, '127.0.0.1', r))
  const endpoint = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`
  const plc = await startMockPlc({})
  const pds = await FakePds.start()
  plc.setDocument(DID, testDidDocument(DID, pds.url, { handle: 't.test' }))
  const relay = await startTestRelay({
    plcUrl: plc.url,
    flags: ['--otel-exporter-otlp-endpoint', endpoint, ...flags],
  })
  try {
    assert.equal(relay.relay.tracingEnabled, true)
    assert.equal((await fetch(`${relay.url}/xrpc/_health`)).status, 200)
    assert.equal((await relay.crawl(pds.hostname)).status, 200)
    await eventually(() => pds.subscriberCount === 1)
    pds.emit(
      1,
      encodeMessageFrame('#identity', { seq: 1, did: DID, time: new Date().toISOString() }),
    )
    await eventually(() => relay.relay.log.flushedSeq === 1)
  } finally {
    await relay.close() // flushes the spans
    await pds.close()
    await plc.close()
  }
  await eventually(() => bodies.length > 0, 10_000, 'spans exported')
  const all = bodies.join('\n')
  for (const name of [
    'GET /xrpc/_health',
    'POST /admin/pds/requestCrawl',
    'ingest.event',
    'identity.resolve',
  ]) {
    assert.ok(all.includes(`"${name}"`), `span ${name} exported`)
  }
  assert.ok(all.includes('atproto-relay'), 'service name')
  await new Promise<void>((r) => collector.close(() => r()))
}

test('tracing is off by default (the no-op tracer, no exporter)', { timeout: 30_000 }, async () => {
  const plc = await startMockPlc({})
  const relay = await startTestRelay({ plcUrl: plc.url })
  try {
    assert.equal(relay.relay.tracingEnabled, false)
    assert.equal((await fetch(`${relay.url}/xrpc/_health`)).status, 200)
  } finally {
    await relay.close()
    await plc.close()
  }
})
