// /metrics after a scenario run (issue 5): the captured `deactivation` scenario goes through a
// real relay; a scrape of its metrics port must show the events received per type, the ones
// accepted, and the one dropped with its reason (`account-inactive`), per relay and per host.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { scenarioIdentityToDidDocument, startMockPlc } from '../../src/identity/testing/mock-plc.ts'
import { FakePds } from '../support/fake-pds.ts'
import { eventually, startTestRelay } from '../support/relay-harness.ts'
import { loadScenario, scenarioFrame } from '../support/scenarios.ts'

function value(text: string, name: string, labels: Record<string, string> = {}): number {
  const want = Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .sort()
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue
    const m = /^([^{ ]+)(?:\{([^}]*)\})? (.+)$/.exec(line)
    if (!m || m[1] !== name) continue
    const have = (m[2] ?? '').split(',').filter(Boolean).sort()
    if (want.every((w) => have.includes(w))) return Number(m[3])
  }
  return Number.NaN
}

test('metrics move as the deactivation scenario says', { timeout: 60_000 }, () => run([]))

// Where the main thread's ingest verified each event: in the workers (the test relays' default,
// above), only on the main thread, or wherever the relay chose (its own default, which follows
// how busy the main thread is).
test('the same with the main thread verifying every event', { timeout: 60_000 }, () =>
  run(['--verify-workers', '0'], 'main'),
)
test('the same with the relay choosing where to verify', { timeout: 60_000 }, () =>
  run(['--verify-on-main', '90'], 'either'),
)
// Verify workers that the main thread never hands an event to are never started.
test(
  'the same with the main thread keeping every event beside idle workers',
  {
    timeout: 60_000,
  },
  () => run(['--verify-on-main', '100', '--verify-workers', '2'], 'main'),
)

// With account shards the same counts come from the shards' ops, their identity caches, their
// histograms' totals and their threads' busy time.
test('the same with account shards', { timeout: 60_000 }, () =>
  run(['--account-shards', '2', '--upstream-threads', '0']),
)

// With host threads the events' counts come from the shards and the host threads' books.
test('the same with account shards and host threads', { timeout: 60_000 }, () =>
  run(['--account-shards', '2', '--upstream-threads', '1']),
)

async function run(
  flags: string[],
  verifiedOn: 'workers' | 'main' | 'either' = 'workers',
): Promise<void> {
  const sharded = flags.includes('--account-shards')
  const scenario = loadScenario('deactivation.json')
  const plc = await startMockPlc({})
  const pds = await FakePds.start()
  for (const a of scenario.accounts) {
    const identity = structuredClone(a.identity)
    identity.services.atproto_pds.url = pds.url
    plc.setDocument(identity.did, scenarioIdentityToDidDocument(identity))
  }
  const relay = await startTestRelay({
    plcUrl: plc.url,
    flags: ['--sync-validation', 'lenient', ...flags],
  })
  try {
    assert.equal((await relay.crawl(pds.hostname)).status, 200)
    await eventually(() => pds.subscriberCount === 1)
    const hostId = relay.relay.hosts.byHostname(pds.hostname)!.id
    for (const m of scenario.messages) {
      const body = m.frame.body as { did?: string; active?: boolean; status?: string }
      if (m.frame.header.t === '#account' && body.did) {
        pds.statuses.set(
          body.did,
          body.active ? { active: true } : { active: false, status: body.status ?? 'deactivated' },
        )
      }
      const seq = m.frame.body.seq as number
      pds.emit(seq, scenarioFrame(m))
      await eventually(() => relay.relay.hosts.connection(hostId)?.cursor === seq)
    }
    const addr = relay.relay.metricsAddress()!
    const res = await fetch(`http://127.0.0.1:${addr.port}/metrics`)
    assert.equal(res.status, 200)
    const text = await res.text()
    const commits = scenario.messages.filter((m) => m.frame.header.t === '#commit').length
    const dropped = scenario.messages.filter((m) => m.drop).length
    assert.equal(value(text, 'relay_events_received_total', { type: 'commit' }), commits)
    assert.equal(value(text, 'relay_events_received_total', { type: 'account' }), 2)
    // Accepted counts what the log took, the relay's own desynchronized mark included (below).
    assert.equal(value(text, 'relay_events_accepted_total'), scenario.messages.length - dropped + 1)
    assert.equal(value(text, 'relay_events_dropped_total', { reason: 'account-inactive' }), dropped)
    assert.equal(
      value(text, 'relay_host_events_dropped_total', {
        host: pds.hostname,
        reason: 'account-inactive',
      }),
      dropped,
    )
    // Plus the relay's own #account marking the account desynchronized: the commit dropped while it
    // was deactivated breaks its chain.
    assert.equal(value(text, 'relay_output_seq'), scenario.messages.length - dropped + 1)
    // Every account was looked up once in the identity cache, and found there afterwards.
    assert.ok(value(text, 'relay_identity_cache_misses_total') >= scenario.accounts.length)
    assert.ok(value(text, 'relay_identity_cache_entries') >= scenario.accounts.length)
    // How busy each thread was: the main thread ran the scenario, the workers (or the shards)
    // verified it.
    assert.ok(value(text, 'relay_thread_busy_seconds_total', { thread: 'main' }) > 0)
    if (sharded) {
      // The shards verify and resolve; they send their histograms' totals once a second at most,
      // and the main thread's metrics add them to its own.
      const scrapeText = async () => (await fetch(`http://127.0.0.1:${addr.port}/metrics`)).text()
      await eventually(
        async () =>
          value(await scrapeText(), 'relay_verify_duration_seconds_count') >= commits - dropped,
        5_000,
        'the shards’ verifications in relay_verify_duration_seconds',
      )
      const later = await scrapeText()
      assert.ok(
        value(later, 'relay_identity_resolution_duration_seconds_count', { result: 'ok' }) >=
          scenario.accounts.length,
      )
      assert.ok(value(text, 'relay_thread_busy_seconds_total', { thread: 'account_shards' }) > 0)
      // A count, whether or not a shard fell behind enough to lend during the scenario.
      assert.ok(value(text, 'relay_account_shard_verifications_lent_total') >= 0)
      assert.ok(value(text, 'relay_account_shard_heap_bytes', { kind: 'used' }) > 0)
      // Every upstream event was handed to one shard or the other; none is waiting any more.
      const handed = ['0', '1'].map((shard) =>
        value(text, 'relay_account_shard_events_total', { shard }),
      )
      assert.equal(handed[0]! + handed[1]!, scenario.messages.length)
      for (const shard of ['0', '1']) {
        assert.equal(value(text, 'relay_account_shard_backlog', { shard }), 0)
      }
    } else {
      const verified = value(text, 'relay_verify_duration_seconds_count')
      assert.ok(verified >= commits - dropped)
      // Each verification counted once, by where it ran.
      const onMain = value(text, 'relay_verified_events_total', { thread: 'main' })
      const inWorkers = value(text, 'relay_verified_events_total', { thread: 'worker' })
      assert.equal(onMain + inWorkers, verified)
      const onMainNow = value(text, 'relay_verify_on_main')
      assert.ok(onMainNow === 0 || onMainNow === 1, `relay_verify_on_main ${onMainNow}`)
      const ready = value(text, 'relay_verify_workers_ready')
      if (verifiedOn === 'workers') {
        assert.equal(onMain, 0)
        assert.equal(onMainNow, 0)
        assert.ok(value(text, 'relay_thread_busy_seconds_total', { thread: 'verify' }) > 0)
        // Running: started with the relay (a start at the first task would read the same here).
        assert.equal(ready, value(text, 'relay_verify_workers'))
      }
      if (verifiedOn === 'main') {
        assert.equal(inWorkers, 0)
        assert.equal(onMainNow, 1)
        // Nothing was handed to them (no whole repo either): never started.
        assert.equal(ready, 0)
      }
      // Started at the first event handed over (and maybe still starting), or never.
      if (verifiedOn === 'either' && inWorkers === 0) assert.equal(ready, 0)
    }
    // The shards verify on their own threads: the main thread none.
    if (sharded) assert.equal(value(text, 'relay_verify_on_main'), 0)
    assert.ok(value(text, 'relay_verify_workers') >= 1)
    assert.ok(
      Number.isNaN(value(text, 'relay_thread_busy_seconds_total', { thread: 'archive_writer' })),
    )
    assert.doesNotMatch(text, /did:plc/, 'no DIDs in labels')
  } finally {
    await relay.close()
    await pds.close()
    await plc.close()
  }
}
