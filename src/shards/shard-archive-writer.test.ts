// Archival mode with account shards: each shard owns its accounts' stored repos (a mirror of its
// own), and on SQLite its writes are ops to the main thread, which runs them on the archive's one
// writer thread and answers by id. First the shard's side alone; then real shard threads over a
// real SQLite archive: every accepted commit stored in its account's order and readable from the
// main thread, a refused write marking the account desynchronized (as on one thread) and logged,
// a takedown deleting the repo, compaction run by the owning shard, the mirrors' counts added up.
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { publishRepos } from '../../test/support/did-doc.ts'
import { generateKeypair } from '../../test/support/keypair.ts'
import { eventually } from '../../test/support/relay-harness.ts'
import { messageFrame, TestRepo } from '../../test/support/test-repo.ts'
import { Takedowns } from '../accounts/takedowns.ts'
import { ArchiveDatabase } from '../archive/archive-db.ts'
import { cidToBytes, RepoStore } from '../archive/repo-store.ts'
import { testBlocks } from '../archive/testing.ts'
import type { WriteCall } from '../archive/writer-messages.ts'
import type { ArchiveWriterThread } from '../archive/writer-thread.ts'
import { loadConfig } from '../config/load.ts'
import { openDatabase, type RelayDatabase } from '../db/database.ts'
import { DatabaseError } from '../db/errors.ts'
import type { HostIngestView } from '../hosts/host-rows.ts'
import { type MockPlc, startMockPlc } from '../identity/testing/mock-plc.ts'
import { readCarSlice } from '../protocol/car.ts'
import { readRepoEnvelope } from '../protocol/envelope.ts'
import { AccountShards } from './account-shards.ts'
import { ShardArchiveWriter } from './shard-archive-writer.ts'

describe('a shard’s archive writer', () => {
  const posted: [number, WriteCall][] = []
  const connected = () => {
    const w = new ShardArchiveWriter()
    w.connect((id, call) => posted.push([id, call]))
    return w
  }

  it('posts each write with an id of its own and settles it by its answer', async () => {
    posted.length = 0
    const w = connected()
    const deleted = w.delete('did:plc:a')
    const swept = w.deleteBlocks('did:plc:b', [new Uint8Array([1])])
    assert.deepEqual(
      posted.map(([id, call]) => [id, call.op, 'did' in call && call.did]),
      [
        [1, 'delete', 'did:plc:a'],
        [2, 'deleteBlocks', 'did:plc:b'],
      ],
    )
    assert.equal(w.waiting, 2)
    // Answers may come in any order; one for an id no longer waited for is ignored.
    w.answered([2, true, 1])
    w.answered([9, true, 'nobody asked'])
    w.answered([1, false, { operation: 'repos.delete', reason: 'unavailable', cause: 'gone' }])
    assert.equal(await swept, 1)
    await assert.rejects(
      deleted,
      (err: unknown) =>
        err instanceof DatabaseError &&
        err.operation === 'repos.delete' &&
        err.reason === 'unavailable',
    )
    assert.equal(w.waiting, 0)
  })

  it('refuses writes before it is connected, and fails what waits once the thread ends', async () => {
    const loose = new ShardArchiveWriter()
    await assert.rejects(loose.delete('did:plc:a'), (err: unknown) => err instanceof DatabaseError)
    const w = connected()
    const waiting = w.delete('did:plc:a')
    w.close()
    await assert.rejects(
      waiting,
      (err: unknown) => err instanceof DatabaseError && err.reason === 'closed',
    )
    await assert.rejects(w.delete('did:plc:b'), (err: unknown) => err instanceof DatabaseError)
    assert.equal(w.waiting, 0)
  })
})

describe('archival mode with account shards', () => {
  const HOSTNAME = 'pds.example.com'
  let dir: string
  let plc: MockPlc
  let db: RelayDatabase
  let archive: ArchiveDatabase
  let store: RepoStore
  let shards: AccountShards
  let HOST: HostIngestView
  const settled: number[] = []
  const desynchronized: string[] = []
  const errors: string[] = []
  /** The shards' writes as the main thread ran them, in the order it ran them. */
  const writes: { method: string; did: string; rev?: string }[] = []
  /** Per account, the bytes of its last change's blocks and of the buffers they arrived in. */
  const arrived = new Map<string, { needed: number; carried: number }>()
  /** The account whose writes the main thread refuses, as a failing database would. */
  let refused = ''
  const repos = ['a', 'b', 'c', 'd'].map(
    (c) => new TestRepo(`did:plc:${c.repeat(24)}`, generateKeypair('k256')),
  )

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shard-archive-'))
    plc = await startMockPlc({})
    publishRepos(plc, repos, `https://${HOSTNAME}`)
    const config = loadConfig(
      ['--archive', '--db-url', `sqlite://${join(dir, 'relay.sqlite')}`, '--plc-host', plc.url],
      {},
      dir,
    )
    db = await openDatabase(config.database)
    // The main thread opens and migrates the archive, with its writer thread, as the relay does.
    archive = await ArchiveDatabase.open(config.archive.database, () => {}, { writerThread: true })
    store = new RepoStore(archive)
    const thread = archive.writerThread!
    const writer: Pick<ArchiveWriterThread, 'request'> = {
      request: async (call) => {
        if (call.op !== 'apply') {
          if (call.op !== 'reclaim') writes.push({ method: call.op, did: call.did })
          return thread.request(call)
        }
        const { did, change } = call
        writes.push({ method: 'apply', did, rev: change.head.rev })
        const blocks = [change.head.commitBlock, ...change.addNodes.values()]
        for (const [, b] of change.addRecords) blocks.push(b)
        const buffers = new Set(blocks.map((b) => b.buffer))
        arrived.set(did, {
          needed: blocks.reduce((n, b) => n + b.byteLength, 0),
          carried: [...buffers].reduce((n, b) => n + b.byteLength, 0),
        })
        if (did === refused) throw new DatabaseError('repos.apply', 'unavailable')
        return thread.request(call)
      },
    }
    const row = await db.hosts.create({ hostname: HOSTNAME, ssl: true, accountLimit: 1000 })
    HOST = {
      id: row.id,
      hostname: HOSTNAME,
      banned: false,
      sync: { mode: null, effective: 'lenient', goodRun: 0 },
    }
    let appended = 0
    shards = new AccountShards({
      count: 2,
      config,
      hosts: {
        ingestView: (id) => (id === HOST.id ? HOST : undefined),
        commitAccepted: () => {},
        accountSlots: () => ({ count: 0, limit: 1000 }),
        takeSlot: () => true,
        adjustAccountCount: () => {},
        settled: (_hostId, seq, dropped) => {
          assert.equal(dropped, false, `event ${seq} accepted`)
          settled.push(seq)
        },
      },
      log: {
        get lastSeq() {
          return appended
        },
        append: () => ({ seq: ++appended }) as never,
      },
      takedowns: new Takedowns(),
      drops: { record: (d) => assert.fail(`unexpected drop: ${d.reason} ${d.detail}`) },
      oldestThrottled: async () => [],
      flushAccounts: async () => {},
      onDesynchronized: (did) => desynchronized.push(did),
      archiveWriter: writer,
      onError: (_level, message) => errors.push(message),
      onLost: (shard, err) => assert.fail(`shard ${shard} lost: ${String(err)}`),
    })
    await shards.ready()
  })

  after(async () => {
    await shards.close()
    await archive.close()
    await db.close()
    await plc.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('stores every accepted commit through the main thread, in each account’s order', async () => {
    refused = repos[3]!.did
    let seq = 0
    const revs = new Map<string, string[]>()
    const frames: Uint8Array[] = []
    for (let round = 0; round < 3; round++) {
      for (const repo of repos) {
        const ops = [
          {
            action: 'create' as const,
            path: `app.bsky.feed.post/3l${String(seq).padStart(11, '0')}`,
          },
        ]
        const commit = await repo.commit(ops, { seq: ++seq })
        revs.set(repo.did, [...(revs.get(repo.did) ?? []), commit.rev])
        frames.push(messageFrame(commit))
      }
    }
    for (const frame of frames) shards.handle(HOST.id, readRepoEnvelope(frame)!, frame)
    await eventually(() => settled.length === frames.length, 20_000, 'every commit settled')
    // The refused account is desynchronized at its first commit; its later ones are relayed but
    // not stored (it waits for its repair), as on one thread.
    assert.deepEqual(desynchronized, [refused])
    assert.equal(errors.length, 1)
    assert.match(errors[0]!, /repos\.apply/)
    for (const repo of repos) {
      const applied = writes.filter((w) => w.did === repo.did).map((w) => w.rev)
      const expected = repo.did === refused ? revs.get(repo.did)!.slice(0, 1) : revs.get(repo.did)
      assert.deepEqual(applied, expected, `${repo.did}'s commits, in order`)
      // What the shard wrote, the main thread's connection reads (the routes' side).
      const head = await store.head(repo.did)
      if (repo.did === refused) assert.equal(head, undefined)
      else assert.equal(head?.rev, revs.get(repo.did)!.at(-1), `${repo.did} stored at its head`)
    }
    await eventually(
      () => shards.mirrorStats().commitsApplied === 9,
      5_000,
      'the shards report their mirrors’ counts',
    )
    assert.equal(shards.mirrorStats().commitsMissing, 0)
  })

  it('compaction runs in the owning shard, its sweep on the main thread’s writer', async () => {
    // Two blocks no tree reaches (what a failure between writes leaves), put beside the repo.
    const did = repos[1]!.did
    const head = (await store.head(did))!
    const orphans = await testBlocks('orphan', 2)
    await archive.db
      .insertInto('repo_block')
      .values(
        orphans.map(([cid, data]) => ({
          repo_id: head.id,
          cid: cidToBytes(cid),
          rev: head.rev,
          refs: 1,
          data,
        })),
      )
      .execute()
    writes.length = 0
    const out = await shards.compact(did)
    assert.equal(out.removed, 2)
    assert.ok(out.kept >= 4, `kept ${out.kept}: the tree's node and its three records`)
    assert.deepEqual(writes, [{ method: 'deleteBlocks', did }])
    assert.deepEqual(
      await store.blocks(
        did,
        orphans.map(([cid]) => cid),
      ),
      new Map(),
    )
    assert.equal((await store.head(did))?.rev, head.rev, 'the repo itself untouched')
    assert.deepEqual(await shards.compact('did:plc:notmirrorednotmirrorednot'), {
      removed: 0,
      kept: 0,
    })
  })

  it('a resync’s whole repo moves to the shard, and its import back, without copies', async () => {
    const repo = new TestRepo(`did:plc:${'e'.repeat(24)}`, generateKeypair('k256'))
    for (let i = 0; i < 5; i++) {
      await repo.commit([
        { action: 'create', path: `app.bsky.feed.post/3l${String(i).padStart(11, '0')}` },
      ])
    }
    // As a resync has it: every block a view into the fetched CAR, a large buffer.
    const car = await repo.exportCar()
    const fetched = new Uint8Array(1 << 20)
    fetched.set(car)
    const { blocks } = readCarSlice(fetched.subarray(0, car.byteLength))
    const commitCid = repo.commitCid!
    const tree = new Map([...blocks].filter(([cid]) => cid !== commitCid))
    writes.length = 0
    const out = await shards.resynchronize(repo.did, {
      hostId: HOST.id,
      head: { rev: repo.rev!, commitCid, dataCid: repo.root!, commitBlock: blocks.get(commitCid)! },
      tree,
      announce: false,
    })
    assert.equal(out.result, 'synced')
    assert.equal(fetched.byteLength, 0, 'the CAR was moved to the shard, not copied')
    assert.deepEqual(writes, [{ method: 'apply', did: repo.did, rev: repo.rev }])
    assert.equal((await store.head(repo.did))?.rev, repo.rev, 'imported')
    // The shard packed the import's blocks into one buffer of their own, moved to this thread.
    const { needed, carried } = arrived.get(repo.did)!
    assert.equal(carried, needed, `${carried} bytes carried for ${needed} bytes of blocks`)
  })

  it('a takedown deletes the account’s stored repo from its shard', async () => {
    writes.length = 0
    assert.equal(await shards.takeDown(repos[0]!.did), true)
    assert.deepEqual(writes, [{ method: 'delete', did: repos[0]!.did }])
    assert.equal(await store.head(repos[0]!.did), undefined)
  })
})
