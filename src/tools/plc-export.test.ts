import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { test } from 'node:test'
import {
  exportPageUrl,
  fetchExportPage,
  type PlcExportClientOptions,
  PlcExportError,
  parseExportLine,
  parseRetryAfter,
} from './plc-export.ts'
import {
  fakeDid,
  legacyCreate,
  plcOperation,
  startMockPlcExport,
  tombstone,
} from './testing/mock-plc-export.ts'

const did = fakeDid('a')
const line = (operation: unknown, extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    did,
    operation,
    cid: 'bafyreicid',
    nullified: false,
    createdAt: '2024-05-01T10:00:00.123Z',
    ...extra,
  })

test('parseExportLine reads the PDS of each operation format', () => {
  const current = parseExportLine(line(plcOperation('https://pds.example.com')))
  assert.deepEqual(current, {
    did,
    cid: 'bafyreicid',
    createdAt: '2024-05-01T10:00:00.123Z',
    createdAtMs: Date.parse('2024-05-01T10:00:00.123Z'),
    nullified: false,
    claim: { kind: 'endpoint', endpoint: 'https://pds.example.com' },
  })
  assert.deepEqual(parseExportLine(line(legacyCreate('https://bsky.social')))?.claim, {
    kind: 'endpoint',
    endpoint: 'https://bsky.social',
  })
  assert.deepEqual(parseExportLine(line(tombstone()))?.claim, { kind: 'none' })
  assert.deepEqual(parseExportLine(line(plcOperation(null)))?.claim, { kind: 'none' })
  const wrongType = {
    type: 'plc_operation',
    services: { atproto_pds: { type: 'Other', endpoint: 'https://pds.example.com' } },
  }
  assert.deepEqual(parseExportLine(line(wrongType))?.claim, { kind: 'none' })
  assert.deepEqual(parseExportLine(line({ type: 'plc_future' }))?.claim, { kind: 'unknown' })
  assert.equal(parseExportLine(line(tombstone(), { nullified: true }))?.nullified, true)
  assert.equal(parseExportLine(line(tombstone(), { seq: 12 }))?.cid, 'bafyreicid')
})

test('parseExportLine refuses lines it cannot place', () => {
  assert.equal(parseExportLine('not json'), null)
  assert.equal(parseExportLine('[]'), null)
  assert.equal(parseExportLine(line(tombstone(), { createdAt: 'yesterday' })), null)
  assert.equal(parseExportLine(line(tombstone(), { did: 5 })), null)
  assert.equal(parseExportLine(line(tombstone(), { cid: undefined })), null)
})

test('parseRetryAfter takes seconds or an HTTP date', () => {
  const now = Date.parse('2024-05-01T10:00:00Z')
  assert.equal(parseRetryAfter(null, now), undefined)
  assert.equal(parseRetryAfter('7', now), 7000)
  assert.equal(parseRetryAfter('Wed, 01 May 2024 10:00:30 GMT', now), 30_000)
  assert.equal(parseRetryAfter('Wed, 01 May 2024 09:00:00 GMT', now), 0)
  assert.equal(parseRetryAfter('soon', now), undefined)
})

test('exportPageUrl keeps a path prefix and encodes after', () => {
  assert.equal(
    exportPageUrl('https://plc.example.com/mirror', 10, '2024-05-01T10:00:00.000Z'),
    'https://plc.example.com/mirror/export?count=10&after=2024-05-01T10%3A00%3A00.000Z',
  )
  assert.equal(
    exportPageUrl('http://127.0.0.1:1', 1000, null),
    'http://127.0.0.1:1/export?count=1000',
  )
})

function client(url: string, delays: number[], extra: Partial<PlcExportClientOptions> = {}) {
  return {
    plcUrl: url,
    userAgent: 'atproto-relay/test (+ops@example.com)',
    baseDelayMs: 10,
    maxDelayMs: 20,
    sleep: async (ms: number) => {
      delays.push(ms)
    },
    ...extra,
  }
}

test('fetchExportPage retries 429 and 5xx, honouring Retry-After, and sends a User-Agent', async (t) => {
  const mock = await startMockPlcExport([
    { did, cid: 'c1', createdAt: '2024-05-01T10:00:00.000Z', operation: tombstone() },
  ])
  t.after(() => mock.close())
  mock.failNext(
    { status: 429, headers: { 'retry-after': '3' } },
    { status: 503, headers: { 'retry-after': new Date(Date.now() + 60_000).toUTCString() } },
    { status: 500 },
    { drop: true },
  )
  const delays: number[] = []
  const retries: number[] = []
  const lines = await fetchExportPage(
    client(mock.url, delays, { onRetry: (r) => retries.push(r.attempt) }),
    5,
    null,
  )
  assert.equal(lines.length, 1)
  assert.equal(delays[0], 3000)
  assert.ok(delays[1]! > 50_000 && delays[1]! <= 60_000, `HTTP-date delay ${delays[1]}`)
  assert.ok(delays[2]! >= 5 && delays[2]! <= 20, `backoff ${delays[2]}`)
  assert.equal(delays.length, 4)
  assert.deepEqual(retries, [1, 2, 3, 4])
  assert.equal(mock.requests.length, 5)
  for (const r of mock.requests) assert.equal(r.userAgent, 'atproto-relay/test (+ops@example.com)')
})

test('fetchExportPage caps Retry-After and gives up after maxAttempts', async (t) => {
  const mock = await startMockPlcExport([])
  t.after(() => mock.close())
  mock.failNext(
    ...Array.from({ length: 3 }, () => ({ status: 429, headers: { 'retry-after': '99999' } })),
  )
  const delays: number[] = []
  await assert.rejects(
    fetchExportPage(client(mock.url, delays, { maxAttempts: 3, maxRetryAfterMs: 1234 }), 5, null),
    (e: unknown) => e instanceof PlcExportError && e.code === 'retries-exhausted',
  )
  assert.deepEqual(delays, [1234, 1234])
  assert.equal(mock.requests.length, 3)
})

test('fetchExportPage fails at once on other statuses and on oversize pages', async (t) => {
  const mock = await startMockPlcExport([
    { did, cid: 'c1', createdAt: '2024-05-01T10:00:00.000Z', operation: tombstone() },
  ])
  t.after(() => mock.close())
  mock.failNext({ status: 400, body: '{"message":"Invalid after parameter"}' })
  const delays: number[] = []
  await assert.rejects(
    fetchExportPage(client(mock.url, delays), 5, null),
    (e: unknown) =>
      e instanceof PlcExportError &&
      e.code === 'http-status' &&
      e.status === 400 &&
      e.message.includes('Invalid after'),
  )
  await assert.rejects(
    fetchExportPage(client(mock.url, delays, { maxPageBytes: 20 }), 5, null),
    (e: unknown) => e instanceof PlcExportError && e.code === 'too-large',
  )
  assert.deepEqual(delays, [])
})

test('fetchExportPage retries a request that times out', async (t) => {
  let calls = 0
  const server = createServer((_req, res) => {
    calls++
    if (calls === 1) return // never answers: the client's time limit must fire
    res.end('{"did":"x"}\n\n')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  )
  const { port } = server.address() as AddressInfo
  const delays: number[] = []
  const lines = await fetchExportPage(
    client(`http://127.0.0.1:${port}`, delays, { timeoutMs: 200 }),
    5,
    null,
  )
  assert.deepEqual(lines, ['{"did":"x"}'])
  assert.equal(delays.length, 1)
})

test('fetchExportPage stops with the abort reason, also while backing off', async (t) => {
  const mock = await startMockPlcExport([])
  t.after(() => mock.close())
  const controller = new AbortController()
  const reason = new Error('stop')
  mock.failNext({ status: 500 })
  await assert.rejects(
    fetchExportPage(
      {
        plcUrl: mock.url,
        userAgent: 'ua',
        onRetry: () => controller.abort(reason),
      },
      5,
      null,
      controller.signal,
    ),
    (e: unknown) => e === reason,
  )
  await assert.rejects(
    fetchExportPage({ plcUrl: mock.url, userAgent: 'ua' }, 5, null, controller.signal),
    (e: unknown) => e === reason,
  )
})
