// Cursor semantics of the relay's subscribeRepos over real sockets (docs/design.md §4 items 1–2):
// cursor=0 (everything retained, no #info), a cursor in the middle (exclusive: seq > cursor),
// a future cursor (error frame FutureCursor, then close), a cursor older than the retained window
// (#info OutdatedCursor first, then everything retained, then live), no cursor (live only), and a
// consumer that stops reading (ConsumerTooSlow, closed) while another keeps receiving.
import assert from 'node:assert/strict'
import { request } from 'node:http'
import { after, before, describe, test } from 'node:test'
import { BytesWrapper } from '@atcute/cbor'
import { type MockPlc, startMockPlc } from '../../src/identity/testing/mock-plc.ts'
import { testDidDocument } from '../support/did-doc.ts'
import { FakePds } from '../support/fake-pds.ts'
import { generateKeypair } from '../support/keypair.ts'
import { Consumer, eventually, startTestRelay, type TestRelay } from '../support/relay-harness.ts'
import { messageFrame, TestRepo } from '../support/test-repo.ts'

const DID = 'did:plc:dddddddddddddddddddddddd'

describe('subscribeRepos cursors', () => {
  let plc: MockPlc
  let pds: FakePds
  let relay: TestRelay
  let repo: TestRepo
  let upstreamSeq = 0
  let n = 0

  const produce = async (count: number, recordBytes = 0) => {
    for (let i = 0; i < count; i++) {
      const record =
        recordBytes > 0
          ? { data: new BytesWrapper(new Uint8Array(recordBytes).fill(i % 251)) }
          : undefined
      const msg = await repo.commit(
        [
          {
            action: 'create',
            path: `app.bsky.feed.post/3l${String(n++).padStart(11, '0')}`,
            record,
          },
        ],
        {
          seq: ++upstreamSeq,
        },
      )
      pds.emit(upstreamSeq, messageFrame(msg))
    }
    await eventually(() => relay.relay.log.flushedSeq >= n, 20_000, `${n} events in the log`)
  }

  before(async () => {
    plc = await startMockPlc({})
    pds = await FakePds.start()
    repo = new TestRepo(DID, generateKeypair('k256'))
    plc.setDocument(
      DID,
      testDidDocument(DID, pds.url, {
        handle: 'cursor.test',
        publicKeyMultibase: repo.keypair.publicKeyMultibase,
      }),
    )
    relay = await startTestRelay({
      plcUrl: plc.url,
      flags: ['--replay-window', '1s', '--consumer-buffer', String(256 * 1024)],
      overrides: { segmentMaxBytes: 16 * 1024 },
    })
    assert.equal((await relay.crawl(pds.hostname)).status, 200)
    await eventually(() => pds.subscriberCount === 1, 10_000, 'relay subscribed')
    await produce(20)
  })
  after(async () => {
    await relay.close()
    await pds.close()
    await plc.close()
  })

  const seqsOf = (c: Consumer) => c.messages().map((m) => m.body.seq as number)

  test('cursor=0: everything retained, no #info, then live', async () => {
    const c = new Consumer(relay.wsUrl, 0)
    await c.until(() => c.messages().length >= 20)
    assert.deepEqual(
      seqsOf(c),
      Array.from({ length: 20 }, (_, i) => i + 1),
    )
    assert.ok(c.messages().every((m) => m.type === '#commit'))
    c.close()
  })

  test('a cursor in the middle is exclusive', async () => {
    const c = new Consumer(relay.wsUrl, 12)
    await c.until(() => c.messages().length >= 8)
    assert.deepEqual(seqsOf(c), [13, 14, 15, 16, 17, 18, 19, 20])
    c.close()
  })

  test('the current seq as cursor gives nothing until the next event', async () => {
    const c = new Consumer(relay.wsUrl, relay.relay.log.flushedSeq)
    await c.opened()
    await produce(1)
    await c.until(() => c.messages().length >= 1)
    assert.deepEqual(seqsOf(c), [relay.relay.log.flushedSeq])
    c.close()
  })

  test('a future cursor: FutureCursor error frame, then the socket closes', async () => {
    const c = new Consumer(relay.wsUrl, relay.relay.log.flushedSeq + 100)
    await c.until(() => c.closed)
    assert.equal(c.frames.length, 1)
    const f = c.frames[0]!.frame
    assert.deepEqual(f, { op: -1, error: 'FutureCursor', message: 'Cursor in the future.' })
  })

  test('no cursor: live only', async () => {
    const c = new Consumer(relay.wsUrl)
    await c.opened()
    const before = relay.relay.log.flushedSeq
    await produce(2)
    await c.until(() => c.messages().length >= 2)
    assert.deepEqual(seqsOf(c), [before + 1, before + 2])
    c.close()
  })

  test('a bad cursor is refused before the upgrade with a 400 naming the parameter', async () => {
    const { status, body } = await new Promise<{ status: number; body: string }>(
      (resolve, reject) => {
        const req = request(`${relay.url}/xrpc/com.atproto.sync.subscribeRepos?cursor=abc`, {
          headers: {
            connection: 'Upgrade',
            upgrade: 'websocket',
            'sec-websocket-version': '13',
            'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
          },
        })
        req.on('response', (res) => {
          let text = ''
          res.on('data', (c: Buffer) => (text += c.toString()))
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }))
        })
        req.on('upgrade', () => reject(new Error('upgraded despite a bad cursor')))
        req.on('error', reject)
        req.end()
      },
    )
    assert.equal(status, 400)
    assert.match(body, /cursor/)
  })

  test('a cursor older than the retained window: #info OutdatedCursor first, then what is retained', async () => {
    await new Promise((r) => setTimeout(r, 1200))
    await produce(40) // new segments; the old ones are now past the 1 s window
    const pruned = await relay.relay.log.pruneExpired()
    assert.ok(pruned.segmentsDeleted > 0, 'old segments deleted')
    const oldest = relay.relay.log.oldestSeq()!
    assert.ok(oldest > 2)
    const c = new Consumer(relay.wsUrl, 1)
    const last = relay.relay.log.flushedSeq
    await c.until(() => c.messages().length >= 1 + (last - oldest + 1))
    const [first, ...rest] = c.messages()
    assert.equal(first!.type, '#info')
    assert.equal(first!.body.name, 'OutdatedCursor')
    assert.deepEqual(
      rest.map((m) => m.body.seq),
      Array.from({ length: last - oldest + 1 }, (_, i) => oldest + i),
    )
    c.close()
  })

  test('a consumer that stops reading gets ConsumerTooSlow and is closed; another keeps receiving', async () => {
    const slow = new Consumer(relay.wsUrl)
    const fast = new Consumer(relay.wsUrl)
    await Promise.all([slow.opened(), fast.opened()])
    // Stop reading the slow consumer's socket: the relay's send buffer fills up.
    ;(slow.ws as unknown as { _socket: { pause(): void } })._socket.pause()
    const start = relay.relay.log.flushedSeq
    await produce(60, 100_000)
    await fast.until(
      () => fast.messages().length >= 60,
      30_000,
      'fast consumer receives everything',
    )
    assert.deepEqual(
      seqsOf(fast),
      Array.from({ length: 60 }, (_, i) => start + 1 + i),
    )
    ;(slow.ws as unknown as { _socket: { resume(): void } })._socket.resume()
    await slow.until(() => slow.closed, 20_000, 'slow consumer closed')
    const last = slow.frames.at(-1)!.frame
    assert.deepEqual(last, {
      op: -1,
      error: 'ConsumerTooSlow',
      message: last.op === -1 ? last.message : undefined,
    })
    assert.ok(slow.messages().length < 60, 'the slow consumer did not get everything')
    fast.close()
  })
})
