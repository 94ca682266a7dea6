// The host status machine wired into a real relay (docs/design.md §4 item 13): a host that cannot be
// reached goes `offline` and keeps being retried on a schedule; a connected host that stays
// silent goes `idle` and is `active` again with its next event. Times are shortened. Both also
// with the host's link on a host thread beside account shards (docs/scaling.md, stage 2).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { startMockPlc } from '../../src/identity/testing/mock-plc.ts'
import { encodeMessageFrame } from '../../src/protocol/frame.ts'
import { call, type HostRecord } from '../support/admin-client.ts'
import { testDidDocument } from '../support/did-doc.ts'
import { FakePds } from '../support/fake-pds.ts'
import { eventually, startTestRelay } from '../support/relay-harness.ts'

const DID = 'did:plc:gggggggggggggggggggggggg'

const HOST_THREADS = ['--account-shards', '2', '--upstream-threads', '1']

test('silent host: idle, then active again with its next event', { timeout: 30_000 }, () =>
  silentHost([]),
)
test('the same on a host thread', { timeout: 30_000 }, () => silentHost(HOST_THREADS))

async function silentHost(flags: string[]): Promise<void> {
  const plc = await startMockPlc({})
  const pds = await FakePds.start()
  plc.setDocument(DID, testDidDocument(DID, pds.url, { handle: 'g.test' }))
  const relay = await startTestRelay({
    plcUrl: plc.url,
    flags,
    overrides: { hostStatus: { idleAfterMs: 300 }, statusTickMs: 50 },
  })
  try {
    assert.equal((await relay.crawl(pds.hostname)).status, 200)
    const id = relay.relay.hosts.byHostname(pds.hostname)!.id
    await eventually(() => relay.relay.hosts.get(id)?.status === 'idle', 10_000, 'idle')
    assert.match(relay.relay.hosts.get(id)!.statusReason ?? '', /./)
    pds.emit(
      1,
      encodeMessageFrame('#identity', { seq: 1, did: DID, time: new Date().toISOString() }),
    )
    await eventually(() => relay.relay.hosts.get(id)?.status === 'active', 10_000, 'active again')
  } finally {
    await relay.close()
    await pds.close()
    await plc.close()
  }
}

test(
  'unreachable host: offline after repeated failures, and retried on a schedule',
  {
    timeout: 60_000,
  },
  () => unreachableHost([]),
)
test('the same on a host thread', { timeout: 60_000 }, () => unreachableHost(HOST_THREADS))

async function unreachableHost(flags: string[]): Promise<void> {
  const plc = await startMockPlc({})
  const pds = await FakePds.start()
  const relay = await startTestRelay({
    plcUrl: plc.url,
    flags,
    overrides: {
      hostStatus: { offlineAfterFailures: 2, offlineRetry: { initialMs: 300, maxMs: 1000 } },
      statusTickMs: 50,
    },
  })
  try {
    assert.equal((await relay.crawl(pds.hostname)).status, 200)
    await eventually(() => pds.subscriberCount === 1, 10_000, 'subscribed')
    const id = relay.relay.hosts.byHostname(pds.hostname)!.id
    await pds.close() // the PDS goes away: every reconnect now fails
    await eventually(() => relay.relay.hosts.get(id)?.status === 'offline', 30_000, 'offline')
    assert.match(relay.relay.hosts.get(id)!.statusReason ?? '', /./)
    // The admin host list says when the host is tried next and why its connection failed.
    const listed = (await call(relay.url, 'GET', '/admin/pds/list')).json as HostRecord[]
    const rec = listed.find((h) => h.ID === id)!
    assert.equal(rec.Status, 'offline')
    assert.ok(Date.parse(String(rec.NextRetryAt)) > Date.now() - 1000, 'a next retry time')
    const lastErr = rec.LastConnectionError as { message: string; at: string }
    assert.match(lastErr.message, /./)
    assert.ok(Number.isFinite(Date.parse(lastErr.at)))
    assert.ok((rec.ConsecutiveFailures as number) >= 2)
    // Offline is not abandoned: the connection is stopped, and a retry comes due and dials again.
    await eventually(
      () => relay.relay.hosts.connection(id) === undefined,
      10_000,
      'connection stopped while offline',
    )
    // A retry dials and fails at once (nothing listens): watched by its count, since the
    // connection it makes may live for less than a polling interval.
    const failures = async () =>
      ((await call(relay.url, 'GET', '/admin/pds/list')).json as HostRecord[]).find(
        (h) => h.ID === id,
      )!.ConsecutiveFailures as number
    const before = await failures()
    await eventually(async () => (await failures()) > before, 10_000, 'retried on schedule')
    assert.equal(relay.relay.hosts.get(id)!.status, 'offline')
  } finally {
    await relay.close()
    await plc.close()
  }
}
