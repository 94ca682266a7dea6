// Upstream FutureCursor (docs/design.md §4 item 13): a PDS that reset its sequence answers the relay's
// cursor with FutureCursor. The host goes `idle` and is retried with the same cursor; only after
// repeated answers over a minimum time (shortened here) is the cursor reset to the live head, and
// events flow again (the host is `active`). Also with the host's link on a host thread beside
// account shards (docs/scaling.md, stage 2), which reports the answers to the main thread's rule.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { startMockPlc } from '../../src/identity/testing/mock-plc.ts'
import { testDidDocument } from '../support/did-doc.ts'
import { FakePds } from '../support/fake-pds.ts'
import { generateKeypair } from '../support/keypair.ts'
import { Consumer, eventually, startTestRelay } from '../support/relay-harness.ts'
import { messageFrame, TestRepo } from '../support/test-repo.ts'

const DID = 'did:plc:ffffffffffffffffffffffff'

test(
  'FutureCursor: idle, retried with the same cursor, then reset to the live head',
  {
    timeout: 60_000,
  },
  () => futureCursor([]),
)

test('the same on a host thread', { timeout: 60_000 }, () =>
  futureCursor(['--account-shards', '2', '--upstream-threads', '1']),
)

async function futureCursor(flags: string[]): Promise<void> {
  const plc = await startMockPlc({})
  const pds = await FakePds.start()
  const repo = new TestRepo(DID, generateKeypair('k256'))
  plc.setDocument(
    DID,
    testDidDocument(DID, pds.url, {
      handle: 'future.test',
      publicKeyMultibase: repo.keypair.publicKeyMultibase,
    }),
  )
  const relay = await startTestRelay({
    plcUrl: plc.url,
    flags,
    overrides: { futureCursorResets: { count: 2, afterMs: 0 } },
  })
  const consumer = new Consumer(relay.wsUrl, 0)
  let n = 0
  const emit = async (seq: number) => {
    const msg = await repo.commit(
      [{ action: 'create', path: `app.bsky.feed.post/3l${String(n++).padStart(11, '0')}` }],
      { seq },
    )
    pds.emit(seq, messageFrame(msg))
  }
  try {
    assert.equal((await relay.crawl(pds.hostname)).status, 200)
    await eventually(() => pds.subscriberCount === 1, 10_000, 'subscribed')
    for (let seq = 1; seq <= 5; seq++) await emit(seq)
    await consumer.until(() => consumer.messages().length >= 5)
    const hostId = relay.relay.hosts.byHostname(pds.hostname)!.id

    pds.resetSequence()
    await eventually(
      () => relay.relay.hosts.get(hostId)?.status === 'idle',
      15_000,
      'host idle after FutureCursor',
    )
    const retried = pds.subscriptions.slice(1)
    assert.ok(retried.length >= 1)
    assert.equal(retried[0]!.cursor, '5', 'retried with the same cursor')

    // The second answer resets the cursor; the relay then subscribes at the live head.
    await eventually(
      () => pds.subscriptions.some((s) => s.cursor === null && pds.subscriptions.indexOf(s) > 0),
      20_000,
      'resubscribed live',
    )
    await eventually(() => pds.subscriberCount === 1, 10_000, 'connected live')
    assert.equal(relay.relay.hosts.cursorResets, 1)
    await emit(1)
    await consumer.until(() => consumer.messages().length >= 6)
    await eventually(
      () => relay.relay.hosts.get(hostId)?.status === 'active',
      10_000,
      'host active again',
    )
  } finally {
    consumer.close()
    await relay.close()
    await pds.close()
    await plc.close()
  }
}
