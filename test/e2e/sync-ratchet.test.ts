// The sync ratchet end to end: a host in `auto` mode starts lenient and turns strict after
// `--sync-ratchet-commits` consecutive proven commits (ops that invert to prevData), counted
// across all of its accounts even when their commits are verified at the same time; the
// transition is stored at once, and the admin API shows it. Real relay, real signed commits
// from a fake PDS on loopback; then the same with account shards and a host thread.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { startMockPlc } from '../../src/identity/testing/mock-plc.ts'
import { CommitStream, raiseEventLimits } from '../support/commit-stream.ts'
import { FakePds } from '../support/fake-pds.ts'
import { eventually, HOST_THREAD_FLAGS, startTestRelay } from '../support/relay-harness.ts'

test(
  'a host turns strict after N proven commits from many accounts at once',
  {
    timeout: 60_000,
  },
  () => ratchet([]),
)

// With account shards and a host thread the commits are verified in the shards, which report
// each proven one to the main thread, where the host's count is kept.
test(
  'the same with account shards and a host thread',
  {
    timeout: 60_000,
  },
  () => ratchet([...HOST_THREAD_FLAGS]),
)

async function ratchet(extra: string[]): Promise<void> {
  const plc = await startMockPlc({})
  const pds = await FakePds.start()
  // 12 accounts, so most commits in a burst are of different accounts and run concurrently.
  const stream = new CommitStream(pds, plc, 'abcdefghijkm')
  const relay = await startTestRelay({
    plcUrl: plc.url,
    flags: ['--sync-ratchet-commits', '30', ...extra],
  })
  try {
    assert.equal((await relay.crawl(pds.hostname)).status, 200)
    await raiseEventLimits(relay.url, pds.hostname)
    await eventually(() => pds.subscriberCount === 1, 10_000, 'subscribed')
    const id = relay.relay.hosts.byHostname(pds.hostname)!.id
    const sync = () => relay.relay.hosts.ingestView(id)!.sync
    assert.deepEqual(sync(), { mode: null, effective: 'lenient', goodRun: 0 })

    await stream.produce(24)
    await eventually(() => relay.relay.log.flushedSeq >= 24, 20_000, '24 commits relayed')
    assert.deepEqual(
      sync(),
      { mode: null, effective: 'lenient', goodRun: 24 },
      'every step counted',
    )

    await stream.produce(12)
    await eventually(() => relay.relay.log.flushedSeq >= 36, 20_000, '36 commits relayed')
    assert.equal(sync().effective, 'strict')
    assert.equal(sync().goodRun, 30, 'a strict host counts no further')
    // The transition is in the table already, not waiting for a checkpoint.
    await eventually(
      async () => (await relay.relay.db.hosts.getById(id))?.syncEffective === 'strict',
      5_000,
      'strict stored',
    )
  } finally {
    await relay.close()
    await pds.close()
    await plc.close()
  }
}
