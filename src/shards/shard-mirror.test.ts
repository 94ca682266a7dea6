// Archival mode with account shards: a shard's writes to the mirror are ops to the main thread,
// answered by id. First the shard's side alone; then real shard threads whose accepted commits,
// takedowns and failed writes reach a stand-in for the main thread's mirror: every commit in
// its account's order, the answer back to the account's turn, a refused write marking the
// account desynchronized (as on one thread) and logged.
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { testDidDocument } from '../../test/support/did-doc.ts'
import { generateKeypair } from '../../test/support/keypair.ts'
import { eventually } from '../../test/support/relay-harness.ts'
import { messageFrame, TestRepo } from '../../test/support/test-repo.ts'
import { Takedowns } from '../accounts/takedowns.ts'
import { loadConfig } from '../config/load.ts'
import { openDatabase, type RelayDatabase } from '../db/database.ts'
import type { HostIngestView } from '../hosts/host-rows.ts'
import { type MockPlc, startMockPlc } from '../identity/testing/mock-plc.ts'
import type { IngestMirror } from '../ingest/types.ts'
import { readRepoEnvelope } from '../protocol/envelope.ts'
import { AccountShards } from './account-shards.ts'
import type { MirrorCall } from './shard-messages.ts'
import { MirrorCallError, ShardMirror } from './shard-mirror.ts'

describe('a shard’s mirror', () => {
  const posted: [number, MirrorCall][] = []
  const mirror = () => new ShardMirror((id, call) => posted.push([id, call]))

  it('posts each write with an id of its own and settles it by its answer', async () => {
    posted.length = 0
    const m = mirror()
    const deleted = m.delete('did:plc:a')
    const imported = m.importRepo('did:plc:b', {} as never, new Map())
    assert.deepEqual(
      posted.map(([id, call]) => [id, call[0], call[1]]),
      [
        [1, 'delete', 'did:plc:a'],
        [2, 'importRepo', 'did:plc:b'],
      ],
    )
    assert.equal(m.waiting, 2)
    // Answers may come in any order; one for an id no longer waited for is ignored.
    m.answered([2, true, { changed: true }])
    m.answered([9, true, 'nobody asked'])
    m.answered([1, false, 'DatabaseError', 'the archive is unavailable'])
    assert.deepEqual(await imported, { changed: true })
    await assert.rejects(
      deleted,
      (err: unknown) =>
        err instanceof MirrorCallError &&
        err.name === 'DatabaseError' &&
        err.method === 'delete' &&
        /mirror delete: the archive is unavailable/.test(err.message),
    )
    assert.equal(m.waiting, 0)
  })

  it('fails what waits, and what comes after, once the thread ends', async () => {
    const m = mirror()
    const waiting = m.delete('did:plc:a')
    m.close()
    await assert.rejects(waiting, /the shard is closing/)
    await assert.rejects(m.delete('did:plc:b'), /the shard is closing/)
    assert.equal(m.waiting, 0)
  })
})

describe('archival mode with account shards', () => {
  const HOSTNAME = 'pds.example.com'
  let dir: string
  let plc: MockPlc
  let db: RelayDatabase
  let shards: AccountShards
  let HOST: HostIngestView
  const settled: number[] = []
  const desynchronized: string[] = []
  const errors: string[] = []
  /** What the stand-in for the main thread's mirror was asked, in the order it was asked. */
  const calls: { method: string; did: string; rev?: string }[] = []
  /** The account whose writes the stand-in refuses. */
  let refused = ''
  const repos = ['a', 'b', 'c', 'd'].map(
    (c) => new TestRepo(`did:plc:${c.repeat(24)}`, generateKeypair('k256')),
  )

  const standIn: IngestMirror = {
    applyCommit: async (did, head) => {
      calls.push({ method: 'applyCommit', did, rev: head.rev })
      if (did === refused) throw new Error('the disk is on fire')
      return { ok: true, applied: true }
    },
    importRepo: async (did) => {
      calls.push({ method: 'importRepo', did })
      return { changed: true }
    },
    delete: async (did) => {
      calls.push({ method: 'delete', did })
      return true
    },
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shard-mirror-'))
    plc = await startMockPlc({})
    for (const repo of repos) {
      plc.setDocument(
        repo.did,
        testDidDocument(repo.did, `https://${HOSTNAME}`, {
          handle: 'h.test',
          publicKeyMultibase: repo.keypair.publicKeyMultibase,
        }),
      )
    }
    const config = loadConfig(
      ['--archive', '--db-url', `sqlite://${join(dir, 'relay.sqlite')}`, '--plc-host', plc.url],
      {},
      dir,
    )
    db = await openDatabase(config.database)
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
      mirror: standIn,
      onError: (_level, message) => errors.push(message),
      onLost: (shard, err) => assert.fail(`shard ${shard} lost: ${String(err)}`),
    })
    await shards.ready()
  })

  after(async () => {
    await shards.close()
    await db.close()
    await plc.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('hands every accepted commit to the main thread’s mirror, in each account’s order', async () => {
    refused = repos[3]!.did
    let seq = 0
    const revs = new Map<string, string[]>()
    const frames: Uint8Array[] = []
    for (let round = 0; round < 3; round++) {
      for (const repo of repos) {
        const path = `app.bsky.feed.post/3l${String(seq).padStart(11, '0')}`
        const commit = await repo.commit([{ action: 'create', path }], { seq: ++seq })
        revs.set(repo.did, [...(revs.get(repo.did) ?? []), commit.rev])
        frames.push(messageFrame(commit))
      }
    }
    for (const frame of frames) shards.handle(HOST.id, readRepoEnvelope(frame)!, frame)
    await eventually(() => settled.length === frames.length, 20_000, 'every commit settled')
    // The refused account is desynchronized at its first commit; its later ones are relayed but
    // not written (it waits for its repair), as on one thread.
    assert.deepEqual(desynchronized, [refused])
    assert.equal(errors.length, 1)
    assert.match(errors[0]!, /mirror applyCommit: the disk is on fire/)
    for (const repo of repos) {
      const applied = calls.filter((c) => c.did === repo.did).map((c) => c.rev)
      const expected = repo.did === refused ? revs.get(repo.did)!.slice(0, 1) : revs.get(repo.did)
      assert.deepEqual(applied, expected, `${repo.did}'s commits, in order`)
    }
  })

  it('a takedown deletes the account’s mirrored repo from its shard', async () => {
    calls.length = 0
    assert.equal(await shards.takeDown(repos[0]!.did), true)
    assert.deepEqual(calls, [{ method: 'delete', did: repos[0]!.did }])
  })
})
