// End to end over real sockets: a fake PDS replays each captured relay scenario
// (fixtures/relay-scenarios/*.json) frame by frame to a real relay; a mock PLC directory on
// loopback serves the scenario identities with their PDS pointed at the fake PDS; a consumer
// reads the relay's firehose. What the file marks `drop` must never appear; everything else must
// appear exactly once, in order, equal to the input apart from seq (relay seqs are gapless),
// `blobs` written as an array, and `#identity` carrying the handle the DID document claims.
// Where an account's chain breaks (a passed commit whose `since` is not the rev the relay last
// passed for it, as after a commit dropped while the account was inactive), the relay follows it with
// its own `#account` marking the account desynchronized (docs/design.md, "Repair"), once until repaired.
// Strict or lenient as the file says, on one thread and again with account shards. Variants: the identity given another key (every commit
// and sync dropped: bad-signature), the identity's key off its curve (every commit and sync
// dropped: identity-unavailable, found by the verify worker, which alone parses the key), and the
// DID document naming another PDS (every commit, sync and account event dropped: wrong-host).
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import {
  type MockPlc,
  scenarioIdentityToDidDocument,
  startMockPlc,
} from '../../src/identity/testing/mock-plc.ts'
import { toJson } from '../../src/protocol/cbor/data-model.ts'
import type { DropReason } from '../../src/protocol/drop-reasons.ts'
import { FakePds } from '../support/fake-pds.ts'
import { generateKeypair, offCurveMultikey } from '../support/keypair.ts'
import {
  Consumer,
  eventually,
  MAIN_THREAD_VERIFY,
  startTestRelay,
  type TestRelay,
} from '../support/relay-harness.ts'
import { loadScenario, type Scenario, scenarioFrame, scenarioNames } from '../support/scenarios.ts'

type Variant = 'as-captured' | 'swapped-key' | 'unusable-key' | 'other-pds'

interface Run {
  consumer: Consumer
  relay: TestRelay
}

async function runScenario(
  scenario: Scenario,
  variant: Variant,
  plc: MockPlc,
  flags: string[] = [],
): Promise<Run> {
  const pds = await FakePds.start()
  for (const a of scenario.accounts) {
    const identity = structuredClone(a.identity)
    identity.services.atproto_pds.url =
      variant === 'other-pds' ? 'https://elsewhere.example.com' : pds.url
    if (variant === 'swapped-key')
      identity.keys.atproto.publicKeyMultibase = generateKeypair('k256').publicKeyMultibase
    if (variant === 'unusable-key')
      identity.keys.atproto.publicKeyMultibase = offCurveMultikey('k256')
    plc.setDocument(identity.did, scenarioIdentityToDidDocument(identity))
  }
  const relay = await startTestRelay({
    plcUrl: plc.url,
    flags: ['--sync-validation', scenario.lenient ? 'lenient' : 'strict', ...flags],
  })
  const consumer = new Consumer(relay.wsUrl, 0)
  await consumer.opened()
  const res = await relay.crawl(pds.hostname)
  assert.equal(res.status, 200, await res.text())
  await eventually(() => pds.subscriberCount === 1, 10_000, 'relay subscribes to the fake PDS')
  const hostId = relay.relay.hosts.byHostname(pds.hostname)!.id
  const cursor = () => relay.relay.hosts.connection(hostId)?.cursor
  // One frame at a time: the fake PDS answers getRepoStatus as the account's last #account said
  // (docs/design.md §4 item 11b), which must not run ahead of the relay.
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
    await eventually(() => cursor() === seq, 15_000, `scenario frame ${seq} processed`)
  }
  await relay.relay.ingest.idle()
  await relay.relay.log.flush()
  await eventually(
    () => consumer.messages().length >= relay.relay.log.flushedSeq,
    5_000,
    'consumer caught up',
  )
  await pds.close()
  return { consumer, relay }
}

const RELAY_TIME = '(relay clock)'

function expectedOutput(scenario: Scenario): Record<string, unknown>[] {
  const identities = new Map(scenario.accounts.map((a) => [a.identity.did, a.identity]))
  const lastRev = new Map<string, string>()
  const desynchronized = new Set<string>()
  return scenario.messages
    .filter((m) => !m.drop)
    .flatMap((m) => {
      const b = m.frame.body as { repo?: string; did?: string; rev?: string; since?: string }
      const did = b.repo ?? b.did ?? ''
      const marks: Record<string, unknown>[] = []
      if (m.frame.header.t === '#commit' && b.rev) {
        const last = lastRev.get(did)
        if (last && b.since && b.since !== last && !desynchronized.has(did)) {
          desynchronized.add(did)
          marks.push({
            $type: '#account',
            did,
            active: true,
            status: 'desynchronized',
            time: RELAY_TIME,
          })
        }
        lastRev.set(did, b.rev)
      }
      if (m.frame.header.t === '#sync' && b.rev) {
        lastRev.set(did, b.rev)
        desynchronized.delete(did)
      }
      return [expected(m), ...marks]
    })

  function expected(m: Scenario['messages'][number]): Record<string, unknown> {
    const body: Record<string, unknown> = { ...m.frame.body }
    delete body.seq
    if (m.frame.header.t === '#commit') {
      if (body.blobs === null || body.blobs === undefined) body.blobs = []
      delete body.prev
    }
    if (m.frame.header.t === '#identity') {
      const aka = identities.get(body.did as string)?.alsoKnownAs.find((a) => a.startsWith('at://'))
      if (aka) body.handle = aka.slice('at://'.length)
      else delete body.handle
    }
    return { $type: m.frame.header.t, ...body }
  }
}

describe('relay scenarios end to end', () => {
  let plc: MockPlc
  before(async () => {
    plc = await startMockPlc({})
  })
  after(async () => {
    await plc.close()
  })

  const firstWithRepoEvents = scenarioNames().find((n) =>
    loadScenario(n).messages.some((m) => ['#commit', '#sync'].includes(m.frame.header.t)),
  )
  // As captured, on one thread and with account shards (each account's events decided in its
  // shard, in order; the output the same), and with every event verified on the main thread
  // rather than in a worker.
  const layouts = [
    ['', []],
    [' (account shards)', ['--account-shards', '2', '--upstream-threads', '0']],
    MAIN_THREAD_VERIFY,
  ] as const
  for (const name of scenarioNames()) {
    const scenario = loadScenario(name)
    for (const [layout, flags] of layouts)
      test(`${name}${layout}: drops exactly what the file marks, passes the rest once, in order`, async () => {
        const { consumer, relay } = await runScenario(scenario, 'as-captured', plc, [...flags])
        try {
          const got = consumer.messages()
          const seqs = got.map((m) => m.body.seq as number)
          assert.deepEqual(
            seqs,
            seqs.map((_, i) => i + 1),
            'relay seqs are gapless from 1',
          )
          const actual = got.map((m) => {
            const { seq: _seq, ...rest } = toJson(m.body) as Record<string, unknown>
            if (m.type === '#account' && rest.status === 'desynchronized') rest.time = RELAY_TIME
            return { $type: m.type, ...rest }
          })
          assert.deepEqual(actual, expectedOutput(scenario))
          // Each drop the file marks was counted with a reason.
          const dropped = scenario.messages.filter((m) => m.drop).length
          assert.equal(relay.relay.drops.total(), dropped)
        } finally {
          consumer.close()
          await relay.close()
        }
      })

    const repoEvents = scenario.messages.filter((m) =>
      ['#commit', '#sync'].includes(m.frame.header.t),
    )
    // An identity whose key is not the signer's, or is off its curve (the main thread names the
    // key without parsing it; the verify worker parses it and refuses it: one scenario is enough
    // for that, the path is the same for every commit).
    const keyVariants: { variant: Variant; what: string; reason: DropReason }[] = [
      { variant: 'swapped-key', what: 'identity given another key', reason: 'bad-signature' },
      ...(name === firstWithRepoEvents
        ? [
            {
              variant: 'unusable-key' as const,
              what: 'identity’s key off its curve',
              reason: 'identity-unavailable' as const,
            },
          ]
        : []),
    ]
    for (const { variant, what, reason } of repoEvents.length > 0 ? keyVariants : []) {
      test(`${name}: with the ${what}, every commit and sync is dropped (${reason})`, async () => {
        const { consumer, relay } = await runScenario(scenario, variant, plc)
        try {
          const types = consumer.messages().map((m) => m.type)
          assert.equal(types.filter((t) => t === '#commit' || t === '#sync').length, 0)
          const expectedOthers = scenario.messages.filter((m) =>
            ['#identity', '#account'].includes(m.frame.header.t),
          ).length
          assert.equal(types.length, expectedOthers)
          const hostId = relay.relay.hosts.list()[0]!.id
          const counts = relay.relay.drops.forHost(hostId)
          const keyDrops = counts.get(reason)?.count ?? 0
          const inactiveDrops = counts.get('account-inactive')?.count ?? 0
          assert.equal(keyDrops + inactiveDrops, repoEvents.length)
          assert.ok(keyDrops > 0)
          assert.equal(relay.relay.ingest.stats.errors, 0, 'no event ended as an error')
        } finally {
          consumer.close()
          await relay.close()
        }
      })
    }

    test(`${name}: with the DID document naming another PDS, nothing from this host passes (wrong-host)`, async () => {
      const { consumer, relay } = await runScenario(scenario, 'other-pds', plc)
      try {
        assert.deepEqual(consumer.messages(), [])
        const hostId = relay.relay.hosts.list()[0]!.id
        const counts = relay.relay.drops.forHost(hostId)
        assert.equal(counts.get('wrong-host')?.count, scenario.messages.length)
      } finally {
        consumer.close()
        await relay.close()
      }
    })
  }
})
