// Account shards on real worker threads, each with its own SQLite connection, against a mock PLC
// directory; the log and the hosts part are stand-ins that record what the shards asked of
// them. What is checked: every event is settled once, in order per account, with its record
// appended before its settlement; each shard's checkpoint stores its own accounts under its own
// key; a checkpoint that fails before writing keeps every state for the next one; calls reach
// the owning shard; a shard handed many more commits than the others lends the others
// verifications and still settles every event in order.
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { publishRepos, testDidDocument } from '../../test/support/did-doc.ts'
import { generateKeypair } from '../../test/support/keypair.ts'
import { eventually } from '../../test/support/relay-harness.ts'
import { messageFrame, TestRepo } from '../../test/support/test-repo.ts'
import { ACCOUNT_SHARDS_KEY, shardCheckpointKey } from '../accounts/account-rows.ts'
import { shardOf } from '../accounts/shard-of.ts'
import { Takedowns } from '../accounts/takedowns.ts'
import { loadConfig } from '../config/load.ts'
import { openDatabase, type RelayDatabase } from '../db/database.ts'
import type { AppendInput } from '../eventlog/types.ts'
import type { HostIngestView } from '../hosts/host-rows.ts'
import { type MockPlc, startMockPlc } from '../identity/testing/mock-plc.ts'
import { readRepoEnvelope } from '../protocol/envelope.ts'
import { AccountShards, ShardCallError } from './account-shards.ts'

const HOSTNAME = 'pds.example.com'
const HOSTNAME2 = 'pds-two.example.com'
const DIDS = Array.from({ length: 12 }, (_, i) => `did:plc:${'abcdefghijkl'[i]!.repeat(24)}`)

describe('account shards', () => {
  let dir: string
  let plc: MockPlc
  let db: RelayDatabase
  let shards: AccountShards
  const appended: AppendInput[] = []
  /** Per upstream seq: how many records were appended when it was settled. */
  const settled = new Map<number, number>()
  let failSync = false
  const lost: { shard: number; err: unknown }[] = []
  let HOST: HostIngestView
  /** A second host, banned by one test: its drops and dropped settlements are expected. */
  let HOST2: HostIngestView
  const host2Drops: { seq: number | undefined; reason: string }[] = []

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shards-'))
    plc = await startMockPlc({})
    for (const did of DIDS) {
      plc.setDocument(did, testDidDocument(did, `https://${HOSTNAME}`, { handle: 'h.test' }))
    }
    const config = loadConfig(
      ['--db-url', `sqlite://${join(dir, 'relay.sqlite')}`, '--plc-host', plc.url],
      {},
      dir,
    )
    db = await openDatabase(config.database)
    // The accounts' rows name their host.
    const row = await db.hosts.create({ hostname: HOSTNAME, ssl: true, accountLimit: 1000 })
    HOST = {
      id: row.id,
      hostname: HOSTNAME,
      banned: false,
      sync: { mode: null, effective: 'lenient', goodRun: 0 },
    }
    const row2 = await db.hosts.create({ hostname: HOSTNAME2, ssl: true, accountLimit: 1000 })
    HOST2 = { ...HOST, id: row2.id, hostname: HOSTNAME2 }
    shards = new AccountShards({
      count: 3,
      config,
      hosts: {
        ingestView: (id) => (id === HOST.id ? HOST : id === HOST2.id ? HOST2 : undefined),
        commitAccepted: () => {},
        accountSlots: () => ({ count: 0, limit: 1000 }),
        takeSlot: () => true,
        adjustAccountCount: () => {},
        settled: (hostId, seq, dropped) => {
          if (hostId === HOST2.id) return
          assert.equal(dropped, false, `event ${seq} accepted`)
          assert.ok(!settled.has(seq), `event ${seq} settled once`)
          settled.set(seq, appended.length)
        },
      },
      log: {
        get lastSeq() {
          return appended.length
        },
        append: (input) => {
          appended.push(input)
          return { seq: appended.length } as never
        },
      },
      takedowns: new Takedowns(),
      drops: {
        record: (d) => {
          if (d.hostId !== HOST2.id) assert.fail(`unexpected drop: ${d.reason} ${d.detail}`)
          host2Drops.push({ seq: d.seq, reason: d.reason })
        },
      },
      oldestThrottled: async () => [],
      flushAccounts: async () => {},
      onDesynchronized: () => {},
      onError: (_level, message) => assert.fail(message),
      onLost: (shard, err) => lost.push({ shard, err }),
    })
    await shards.ready()
  })

  after(async () => {
    await shards.close()
    await db.close()
    await plc.close()
    await rm(dir, { recursive: true, force: true })
  })

  const identityEvent = (seq: number, did: string) =>
    shards.handle(
      HOST.id,
      { type: '#identity', seq, did, time: new Date().toISOString() },
      new Uint8Array([seq & 0xff]),
    )

  it('settles every event once, each after its own record, in order per account', async () => {
    let seq = 0
    for (let round = 0; round < 3; round++) for (const did of DIDS) identityEvent(++seq, did)
    await eventually(() => settled.size === seq, 10_000, `${seq} events settled`)
    assert.equal(appended.length, seq)
    for (const [s, count] of settled) {
      const record = appended.findIndex((a) => a.upstreamSeq === s)
      assert.ok(record >= 0 && record < count, `event ${s}'s record before its settlement`)
    }
    for (const did of DIDS) {
      const seqs = appended.filter((a) => a.did === did).map((a) => a.upstreamSeq)
      assert.deepEqual(
        seqs,
        [...seqs].sort((a, b) => a - b),
        `${did}'s records in upstream order`,
      )
    }
    assert.equal(shards.stats.received, seq)
    assert.equal(shards.stats.accepted, seq)
    assert.equal(shards.stats.inFlight, 0)
  })

  it('a checkpoint whose log sync fails writes nothing and loses nothing', async () => {
    failSync = true
    await assert.rejects(
      shards.checkpoint(async () => {
        if (failSync) throw new Error('disk full')
      }),
      /disk full/,
    )
    assert.equal(await db.accounts.get(DIDS[0]!), undefined, 'nothing written')
    failSync = false
    const written = await shards.checkpoint(async () => {})
    assert.equal(written, DIDS.length, 'every account written by the next checkpoint')
    for (const did of DIDS) assert.equal((await db.accounts.get(did))?.handle, 'h.test', did)
    // Each shard stored its own checkpoint; the layout key is the main thread's to write.
    for (let i = 0; i < 3; i++) {
      assert.equal(await db.meta.get(shardCheckpointKey(i)), String(appended.length), `shard ${i}`)
    }
    assert.equal(await db.meta.get(ACCOUNT_SHARDS_KEY), undefined)
  })

  it('calls reach the shard that owns the account', async () => {
    const owners = new Set(DIDS.map((did) => shardOf(did, 3)))
    assert.equal(owners.size, 3, 'the accounts spread over all three shards')
    for (const did of DIDS) {
      assert.equal((await shards.account(did))?.did, did)
      assert.equal((await shards.peekIdentity(did))?.handle, 'h.test')
    }
    assert.equal(await shards.account('did:plc:unknownunknownunknownunk'), undefined)
    assert.equal(await shards.takeDown('did:plc:unknownunknownunknownunk'), false)
  })

  it('a shard far behind the others lends them verifications; its events stay in order', async () => {
    // Twenty-four accounts of shard 0, two commits each, all handed in one turn: shard 0 has 24
    // accounts' work that can run and the others none, so it lends until it is within the
    // margin of them.
    const b32 = 'abcdefghijklmnopqrstuvwxyz234567'
    const repos = Array.from(
      { length: 400 },
      (_, i) => `did:plc:lend${'a'.repeat(16)}${b32[i >> 5]}${b32[i & 31]}xx`,
    )
      .filter((did) => shardOf(did, 3) === 0)
      .slice(0, 24)
      .map((did) => new TestRepo(did, generateKeypair('k256')))
    assert.equal(repos.length, 24)
    publishRepos(plc, repos, `https://${HOSTNAME}`)
    let seq = 1_000
    const frames: Uint8Array[] = []
    for (let i = 0; i < 2; i++) {
      for (const repo of repos) {
        const path = `app.bsky.feed.post/3l${String(seq).padStart(11, '0')}`
        frames.push(messageFrame(await repo.commit([{ action: 'create', path }], { seq: ++seq })))
      }
    }
    const before = { settled: settled.size, appended: appended.length }
    for (const frame of frames) shards.handle(HOST.id, readRepoEnvelope(frame)!, frame)
    await eventually(() => settled.size === before.settled + frames.length, 20_000, 'all settled')
    const records = appended.slice(before.appended)
    assert.equal(records.length, frames.length, 'every commit accepted')
    for (const repo of repos) {
      const seqs = records.filter((a) => a.did === repo.did).map((a) => a.upstreamSeq)
      assert.equal(seqs.length, 2)
      assert.deepEqual(
        seqs,
        [...seqs].sort((a, b) => a - b),
        `${repo.did}'s commits in order`,
      )
      assert.equal((await shards.account(repo.did))?.rev, repo.rev, 'the head is the last commit')
    }
    assert.ok(shards.verificationsLent() > 0, 'shard 0 lent verifications')
    assert.equal(shards.stats.inFlight, 0)
  })

  it('a host banned while its events wait at a shard: those not yet begun are dropped', async () => {
    // A new account's first event waits for its DID document (held); its second waits behind
    // it for the account's turn. The ban reaches the shard at once, with no event to carry it.
    const did = 'did:plc:bannedbannedbannedbanned'
    plc.setDocument(did, testDidDocument(did, `https://${HOSTNAME2}`, { handle: 'b.test' }))
    const before = appended.length
    plc.hold()
    const event = (seq: number) =>
      shards.handle(
        HOST2.id,
        { type: '#identity', seq, did, time: new Date().toISOString() },
        new Uint8Array([seq]),
      )
    event(1)
    event(2)
    await eventually(() => plc.heldCount() > 0, 5_000, 'the first event waits for the directory')
    HOST2 = { ...HOST2, banned: true }
    shards.hostChanged(HOST2.id)
    // The shard hears of the ban before the answer: a call goes after every message before it.
    await shards.peekIdentity(did)
    plc.release()
    await eventually(() => host2Drops.length === 1, 5_000, 'the waiting event dropped')
    assert.deepEqual(host2Drops, [{ seq: 2, reason: 'host-banned' }])
    assert.deepEqual(
      appended.slice(before).map((a) => a.upstreamSeq),
      [1],
      'the event begun before the ban passes, as it would on one thread',
    )
    await eventually(() => shards.stats.inFlight === 0, 5_000, 'both settled')
  })

  // Last: it ends a shard.
  it('a shard that ends is reported once; calls to it fail at once; the rest close', async () => {
    assert.equal(lost.length, 0)
    const did = DIDS.find((d) => shardOf(d, 3) === 1)!
    await shards.threads[1]!.terminate()
    await eventually(() => lost.length > 0, 5_000, 'the loss reported')
    assert.equal(lost.length, 1)
    assert.equal(lost[0]!.shard, 1)
    await assert.rejects(shards.account(did), (err: unknown) => {
      assert.ok(err instanceof ShardCallError)
      assert.equal(err.remoteName, null)
      return true
    })
    const other = DIDS.find((d) => shardOf(d, 3) === 0)!
    assert.equal((await shards.account(other))?.did, other, 'the others still answer')
  })
})
