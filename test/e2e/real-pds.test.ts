// End to end against the reference PDS: `@atproto/dev-env` runs a PLC directory and two PDSes (A
// and B) in this process; a real relay (strict sync validation: the PDS's commits carry prevData)
// crawls both. Accounts on both PDSes are created, post, like, delete a post and a like, change
// handle, deactivate and reactivate, and one migrates from A to B. Each PDS's own subscribeRepos
// is recorded independently, and a consumer reads the relay's firehose from cursor 0.
// After every step the test waits (event-driven, bounded) until the relay has processed all each
// PDS has sequenced, then the consumer checks the new relay events on its own: each `#commit`
// verified with the project's pure verifier (strict, previous state tracked per account, the key
// the DID document names), each `#sync` verified likewise, each `#identity` handle equal to what
// the DID document claims. At the end: every event each PDS emitted appears in the relay's output
// exactly once, equal apart from seq (`blocks` bytes, ops, CIDs, times), in the same per-account
// order; relay seqs are 1..N; and the only drops are the two the reference PDS makes legitimate
// during migration, each with its exact reason:
// - `commit-mismatch`: B's `#sync` on activation after importRepo names a rev that is not the
//   signed commit's rev (the PDS stores the imported commit under a fresh rev without re-signing);
//   the sync spec requires them equal, so a relay cannot pass it on.
// - `wrong-host`: A's `#account` (deactivated) sent after the DID document moved to B; only the
//   account's current PDS speaks for its status (docs/design.md §4 item 11).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { readCarSlice } from '../../src/protocol/car.ts'
import { parseCommit } from '../../src/protocol/commit.ts'
import type { DropReason } from '../../src/protocol/drop-reasons.ts'
import { parseMessage, type RepoEvent } from '../../src/protocol/messages.ts'
import { verifyCommit, verifySync } from '../../src/verify/commit.ts'
import { parseVerificationMethod } from '../../src/verify/crypto/keys.ts'
import { verifySignature } from '../../src/verify/crypto/signature.ts'
import {
  type ArrivalClock,
  claimedHandle,
  createDevAccount,
  type DevNetwork,
  type EmittedEvent,
  migrateDevAccount,
  PdsFirehose,
  signingMethod,
  startDevNetwork,
} from '../support/atproto-dev.ts'
import { Consumer, eventually, startTestRelay, type TestRelay } from '../support/relay-harness.ts'

const STEP_TIMEOUT_MS = 15_000

const didOf = (m: RepoEvent): string => (m.type === '#commit' ? m.repo : m.did)

/** What is compared between a PDS's event and the relay's: everything but seq (and the
 * `#identity` handle, which the relay takes from the DID document). */
function comparable(m: RepoEvent): Record<string, unknown> {
  const out: Record<string, unknown> = { ...m, seq: 0 }
  if (m.type === '#identity') delete out.handle
  return out
}

/** A short label per event for readable per-account sequences. */
function label(m: RepoEvent): string {
  switch (m.type) {
    case '#commit':
      return `#commit ${m.commit.$link}`
    case '#sync':
      return `#sync ${m.rev}`
    case '#identity':
      return '#identity'
    case '#account':
      return `#account ${m.active ? 'active' : m.status}`
  }
}

/**
 * The consumer's own checks of the relay's output, run on the events that arrived since the
 * last call, against the DID documents as they are now (the test calls it after every step).
 */
class IndependentChecker {
  readonly #net: DevNetwork
  readonly #consumer: Consumer
  readonly #state = new Map<string, { rev: string; data: string; commit: string }>()
  #checked = 0
  commitsVerified = 0

  constructor(net: DevNetwork, consumer: Consumer) {
    this.#net = net
    this.#consumer = consumer
  }

  async checkNew(): Promise<void> {
    const frames = this.#consumer.frames
    for (; this.#checked < frames.length; this.#checked++) {
      const { frame } = frames[this.#checked]!
      assert.equal(frame.op, 1, 'the relay sent only message frames')
      if (frame.op !== 1) continue
      const msg = parseMessage(frame)
      assert.notEqual(msg.type, '#info')
      if (msg.type === '#info') continue
      assert.equal(msg.seq, this.#checked + 1, 'relay seqs are consecutive from 1')
      const doc = await this.#net.didDocument(didOf(msg))
      if (msg.type === '#identity') {
        assert.equal(msg.handle ?? null, claimedHandle(doc), `handle of relay seq ${msg.seq}`)
      } else if (msg.type === '#commit') {
        const previous = this.#state.get(msg.repo) ?? null
        const v = await verifyCommit(msg, {
          key: parseVerificationMethod(signingMethod(doc)),
          previous,
          now: Date.now(),
          mode: 'strict',
          checkSignature: verifySignature,
        })
        assert.ok(v.ok, `relay seq ${msg.seq} verifies: ${v.ok ? '' : `${v.reason} ${v.detail}`}`)
        assert.deepEqual(v.warnings, [], `relay seq ${msg.seq}: no chain break`)
        this.#state.set(msg.repo, { rev: v.rev, data: v.dataCid, commit: v.commitCid })
        this.commitsVerified++
      } else if (msg.type === '#sync') {
        // A sync may re-announce the head already held (same rev and commit); never an older one.
        const held = this.#state.get(msg.did)
        const v = verifySync(msg, {
          key: parseVerificationMethod(signingMethod(doc)),
          previous: null,
          now: Date.now(),
          checkSignature: verifySignature,
        })
        assert.ok(v.ok, `relay seq ${msg.seq} verifies: ${v.ok ? '' : `${v.reason} ${v.detail}`}`)
        if (held && v.rev <= held.rev) {
          assert.deepEqual([v.rev, v.commitCid], [held.rev, held.commit], 'no sync roll-back')
        }
        this.#state.set(msg.did, { rev: v.rev, data: v.dataCid, commit: v.commitCid })
      }
    }
  }
}

/** The rev inside the signed commit a `#sync` carries. */
function signedRev(blocks: Uint8Array): string {
  const car = readCarSlice(blocks)
  return parseCommit(car.blocks.get(car.roots[0]!)!).rev
}

test('real PDSes: every event each PDS emitted reaches the relay firehose once, verified, in order', () =>
  realPdses([]))

// The same with account shards: ingest and verification on the shards' threads.
test('the same with account shards', () => realPdses(['--account-shards', '2']))

async function realPdses(extraFlags: string[]): Promise<void> {
  const net = await startDevNetwork({ pdsCount: 2 })
  const cleanups: (() => Promise<void> | void)[] = [() => net.close()]
  try {
    const [A, B] = net.pdses as [(typeof net.pdses)[0], (typeof net.pdses)[0]]
    // The PDSes' sockets on a socket thread (the other end-to-end tests read them on the main
    // thread, the default on small machines): the same outcome, event for event.
    const relay: TestRelay = await startTestRelay({
      plcUrl: net.plc.url,
      flags: ['--sync-validation', 'strict', '--upstream-threads', '1', ...extraFlags],
    })
    cleanups.unshift(() => relay.close())
    const clock: ArrivalClock = { n: 0 }
    const firehoses = [new PdsFirehose(A, clock), new PdsFirehose(B, clock)]
    for (const f of firehoses) cleanups.unshift(() => f.close())
    await Promise.all(firehoses.map((f) => f.opened()))
    const consumer = new Consumer(relay.wsUrl, 0)
    cleanups.unshift(() => consumer.close())
    await consumer.opened()
    const hostIds: number[] = []
    for (const p of net.pdses) {
      const res = await relay.crawl(p.hostname)
      assert.equal(res.status, 200, await res.text())
      const id = relay.relay.hosts.byHostname(p.hostname)!.id
      hostIds.push(id)
      await eventually(() => relay.relay.hosts.connection(id)?.connected === true, STEP_TIMEOUT_MS)
    }
    const checker = new IndependentChecker(net, consumer)

    /** Waits until the relay has processed everything each PDS sequenced, then checks it. */
    const settle = async (): Promise<void> => {
      for (const [i, p] of net.pdses.entries()) {
        const head = await p.headSeq()
        await firehoses[i]!.reached(head, STEP_TIMEOUT_MS)
        const connection = () => relay.relay.hosts.connection(hostIds[i]!)
        await eventually(
          () => (connection()?.cursor ?? 0) >= head,
          STEP_TIMEOUT_MS,
          `relay processed ${p.hostname} up to seq ${head}`,
        )
      }
      await consumer.until(
        () => consumer.frames.length >= relay.relay.log.flushedSeq,
        STEP_TIMEOUT_MS,
        'the consumer has every flushed event',
      )
      await checker.checkNew()
    }
    await settle()

    // Which PDS speaks for each account, from which arrival on (changes at migration).
    const authority = new Map<string, { host: string; from: number }[]>()
    const now = () => new Date().toISOString()

    const alice = await createDevAccount(A, 'alice')
    const bob = await createDevAccount(A, 'bob')
    const carol = await createDevAccount(B, 'carol')
    const dave = await createDevAccount(B, 'dave')
    for (const acct of [alice, bob]) authority.set(acct.did, [{ host: A.hostname, from: 0 }])
    for (const acct of [carol, dave]) authority.set(acct.did, [{ host: B.hostname, from: 0 }])
    await settle()

    const a1 = await alice.agent.post({ text: 'first', createdAt: now() })
    const a2 = await alice.agent.post({ text: 'second', createdAt: now() })
    const c1 = await carol.agent.post({ text: 'from B', createdAt: now() })
    await bob.agent.post({ text: 'bob here', createdAt: now() })
    const d1 = await dave.agent.post({ text: 'dave here', createdAt: now() })
    await settle()

    await bob.agent.like(a1.uri, a1.cid)
    const carolLike = await carol.agent.like(a1.uri, a1.cid)
    await dave.agent.like(c1.uri, c1.cid)
    await alice.agent.like(d1.uri, d1.cid)
    await settle()

    await alice.agent.deletePost(a2.uri)
    await carol.agent.deleteLike(carolLike.uri)
    await settle()

    await bob.agent.com.atproto.identity.updateHandle({ handle: 'bobby.test' })
    await dave.agent.com.atproto.identity.updateHandle({ handle: 'dave-renamed.test' })
    await settle()

    await carol.agent.com.atproto.server.deactivateAccount({})
    await settle()
    await carol.agent.com.atproto.server.activateAccount()
    await settle()
    await carol.agent.post({ text: 'back again', createdAt: now() })
    await settle()

    await migrateDevAccount(alice, A, B, 'alice-moved', async (step) => {
      if (step === 'plc-operation') {
        authority.get(alice.did)!.push({ host: B.hostname, from: clock.n + 1 })
      }
      await settle()
    })
    const moved = await alice.agent.post({ text: 'on B now', createdAt: now() })
    await bob.agent.like(moved.uri, moved.cid)
    await settle()

    // What each PDS emitted, in arrival order, with the drops the reference PDS makes legitimate.
    const emitted = firehoses.flatMap((f) => {
      f.assertHealthy()
      return f.events
    })
    emitted.sort((x, y) => x.arrival - y.arrival)
    const hostAt = (did: string, arrival: number): string | undefined =>
      authority
        .get(did)
        ?.filter((a) => a.from <= arrival)
        .at(-1)?.host
    const outcome = (e: EmittedEvent): DropReason | null => {
      if (e.msg.type !== '#identity' && hostAt(didOf(e.msg), e.arrival) !== e.host)
        return 'wrong-host'
      if (e.msg.type === '#sync' && signedRev(e.msg.blocks) !== e.msg.rev) return 'commit-mismatch'
      return null
    }
    const expectedDrops = emitted.flatMap((e) => {
      const reason = outcome(e)
      return reason ? [{ host: e.host, type: e.msg.type, did: didOf(e.msg), reason }] : []
    })
    assert.deepEqual(expectedDrops, [
      { host: B.hostname, type: '#sync', did: alice.did, reason: 'commit-mismatch' },
      { host: A.hostname, type: '#account', did: alice.did, reason: 'wrong-host' },
    ])

    // The relay's output, per account, equals what the PDSes emitted minus those drops.
    const relayed = consumer.messages().map(({ type, body }) => {
      const msg = parseMessage({ op: 1, type, body })
      assert.notEqual(msg.type, '#info')
      return msg as RepoEvent
    })
    const byAccount = <T>(items: T[], did: (t: T) => string) => {
      const out = new Map<string, T[]>()
      for (const t of items) out.set(did(t), [...(out.get(did(t)) ?? []), t])
      return out
    }
    const want = byAccount(
      emitted.filter((e) => outcome(e) === null).map((e) => e.msg),
      didOf,
    )
    const got = byAccount(relayed, didOf)
    assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort(), 'the same accounts')
    for (const [did, events] of want) {
      const out = got.get(did)!
      assert.deepEqual(out.map(label), events.map(label), `${did}: each event once, in order`)
      for (const [i, e] of events.entries()) {
        assert.deepEqual(comparable(out[i]!), comparable(e), `${did} event ${i} (${label(e)})`)
      }
    }
    const total = emitted.length - expectedDrops.length
    assert.equal(relayed.length, total)
    assert.deepEqual(
      relayed.map((m) => m.seq),
      relayed.map((_, i) => i + 1),
    )
    assert.equal(checker.commitsVerified, relayed.filter((m) => m.type === '#commit').length)

    // Nothing else was dropped, and nothing failed inside ingest.
    const dropsAt = (host: string) =>
      Object.fromEntries(
        [...relay.relay.drops.forHost(relay.relay.hosts.byHostname(host)!.id)].map(([r, d]) => [
          r,
          d.count,
        ]),
      )
    assert.deepEqual(dropsAt(A.hostname), { 'wrong-host': 1 })
    assert.deepEqual(dropsAt(B.hostname), { 'commit-mismatch': 1 })
    assert.equal(relay.relay.drops.total(), 2)
    assert.equal(relay.relay.ingest.stats.errors, 0)
  } finally {
    for (const c of cleanups) await c()
  }
}
