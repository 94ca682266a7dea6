import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { generateKeypair } from '../../test/support/keypair.ts'
import { TestRepo } from '../../test/support/test-repo.ts'
import { AccountCache, type AccountPersistence } from '../accounts/account-cache.ts'
import { applyAccountEvent, statusNote } from '../accounts/account-events.ts'
import {
  ACCOUNT_SHARDS_KEY,
  ACCOUNTS_CHECKPOINT_KEY,
  shardCheckpointKey,
} from '../accounts/account-rows.ts'
import { type AccountState, newAccount } from '../accounts/account-state.ts'
import { shardOf } from '../accounts/shard-of.ts'
import type { EventLog } from '../eventlog/event-log.ts'
import { ManualClock, openTestLog, tempDir } from '../eventlog/testing.ts'
import type { AppendInput } from '../eventlog/types.ts'
import { RELAY_HOST_ID } from '../hosts/host-id.ts'
import { accountBody, commitBody, identityBody, prepareFrame } from '../protocol/output.ts'
import { replayedEvent } from './account-replay.ts'
import { CURSORS_SCAN_FROM_KEY } from './checkpointer.ts'
import { CursorBook } from './cursor-book.ts'
import { LostLogError, type RecoveryDeps, recoverAtStart } from './recovery.ts'

const ALICE = 'did:plc:ewvi7nxzyoun6zhxrhs64oiz'
const BOB = 'did:plc:44ybard66vv44zksje25o7dz'
const TIME = '2024-05-01T00:00:00.000Z'

/** Account states in a Map, saved as the real store does (states and checkpoint together). */
class MemoryAccounts implements AccountPersistence {
  readonly states = new Map<string, AccountState>()
  readonly saves: { states: readonly AccountState[]; seq: number }[] = []
  readonly meta: Map<string, string>
  constructor(meta: Map<string, string>) {
    this.meta = meta
  }
  async load(did: string): Promise<AccountState | undefined> {
    return this.states.get(did)
  }
  async save(states: readonly AccountState[], seq: number): Promise<void> {
    for (const s of states) this.states.set(s.did, s)
    this.meta.set(ACCOUNTS_CHECKPOINT_KEY, String(seq))
    this.saves.push({ states, seq })
  }
}

interface Setup {
  readonly log: EventLog
  readonly clock: ManualClock
  readonly meta: Map<string, string>
  readonly store: MemoryAccounts
  readonly book: CursorBook
  deps(over?: Partial<RecoveryDeps>): RecoveryDeps
}

/** A real log in a temp dir, a real account cache over a Map, an empty cursor book. */
async function setup(dir: string): Promise<Setup> {
  const clock = new ManualClock()
  const log = await openTestLog(dir, clock)
  const meta = new Map<string, string>()
  const store = new MemoryAccounts(meta)
  const book = new CursorBook()
  const accounts = new AccountCache(store, { maxEntries: 100 })
  return {
    log,
    clock,
    meta,
    store,
    book,
    deps: (over = {}) => ({
      persistDir: dir,
      log,
      meta: { get: async (key) => meta.get(key) },
      accounts,
      book,
      hostCursors: new Map(),
      afterAccounts: async () => {},
      ...over,
    }),
  }
}

function accountInput(
  did: string,
  status: { active: boolean; status?: string },
  hostId: number,
  upstreamSeq: number,
  note?: string,
): AppendInput {
  return {
    frame: prepareFrame('#account', accountBody({ did, time: TIME, ...status })),
    hostId,
    upstreamSeq,
    did,
    ...(note !== undefined ? { note } : {}),
  }
}

function identityInput(did: string, handle: string, hostId = 5, upstreamSeq = 1): AppendInput {
  return {
    frame: prepareFrame('#identity', identityBody(did, TIME, handle)),
    hostId,
    upstreamSeq,
    did,
  }
}

describe('recoverAtStart: a lost log', () => {
  it('refuses to start when the accounts checkpoint is past the log’s end', async () => {
    await using dir = await tempDir('recovery-')
    const s = await setup(dir.path)
    await using _log = s.log
    s.log.append(identityInput(ALICE, 'a.test'))
    s.log.append(identityInput(ALICE, 'b.test'))
    await s.log.flush()
    s.meta.set(ACCOUNTS_CHECKPOINT_KEY, '10')
    let afterAccounts = 0
    await assert.rejects(
      recoverAtStart(s.deps({ afterAccounts: async () => void afterAccounts++ })),
      (err: unknown) => {
        assert.ok(err instanceof LostLogError)
        assert.equal(err.logLastSeq, 2)
        assert.equal(err.databaseSeq, 10)
        assert.match(err.message, /--initial-seq-number 11/)
        return true
      },
    )
    assert.equal(afterAccounts, 0)
    assert.equal(s.store.saves.length, 0)
  })

  it('starts when the checkpoint is exactly the log’s end', async () => {
    await using dir = await tempDir('recovery-')
    const s = await setup(dir.path)
    await using _log = s.log
    s.log.append(identityInput(ALICE, 'a.test'))
    await s.log.flush()
    s.meta.set(ACCOUNTS_CHECKPOINT_KEY, '1')
    const result = await recoverAtStart(s.deps())
    assert.equal(result.accountsUpdated, 0)
  })
})

describe('recoverAtStart: account states', () => {
  it('rebuilds states after the checkpoint through the rule, from the noted events', async () => {
    await using dir = await tempDir('recovery-')
    const s = await setup(dir.path)
    await using _log = s.log
    s.store.states.set(ALICE, { ...newAccount(ALICE, 5, 1), handle: 'alice.test' })
    // A takedown by the relay, then the PDS deactivates the account: the relay emitted its own
    // view (`takendown`) for the second, so only the note says what the PDS announced.
    s.log.append(
      accountInput(
        ALICE,
        { active: false, status: 'takendown' },
        RELAY_HOST_ID,
        0,
        statusNote({ kind: 'relay-status', localStatus: 'takendown', upstreamActive: false }),
      ),
    )
    s.clock.ms += 1000
    s.log.append(
      accountInput(
        ALICE,
        { active: false, status: 'takendown' },
        5,
        40,
        statusNote({ kind: 'upstream-status', hostId: 5, upstream: 'deactivated' }),
      ),
    )
    await s.log.flush()

    const result = await recoverAtStart(s.deps())
    assert.equal(result.recordsReplayed, 2)
    assert.equal(result.accountsUpdated, 2)
    assert.deepEqual(s.store.states.get(ALICE), {
      ...newAccount(ALICE, 5, 1),
      handle: 'alice.test',
      localStatus: 'takendown',
      upstreamStatus: 'deactivated',
      updatedAt: s.clock.ms,
    })
    assert.equal(s.store.saves.length, 1)
    assert.equal(s.store.saves[0]!.seq, s.log.lastSeq, 'checkpointed at the log’s end')
  })

  it('rebuilds heads, handles and new accounts from #commit and #identity records', async () => {
    await using dir = await tempDir('recovery-')
    const s = await setup(dir.path)
    await using _log = s.log
    const repo = new TestRepo(BOB, generateKeypair('k256'))
    const msg = await repo.commit([{ action: 'create', path: 'app.bsky.feed.post/3laaaaaaaaaa2' }])
    s.log.append({
      frame: prepareFrame('#commit', commitBody(msg)),
      hostId: 6,
      upstreamSeq: 1,
      did: BOB,
    })
    s.log.append(identityInput(BOB, 'bob.test', 6, 2))
    await s.log.flush()

    await recoverAtStart(s.deps())
    assert.deepEqual(s.store.states.get(BOB), {
      ...newAccount(BOB, 6, s.clock.ms),
      rev: repo.rev,
      commitCid: repo.commitCid,
      dataCid: repo.root,
      handle: 'bob.test',
    })
  })

  it('does not apply records at or below the checkpoint', async () => {
    await using dir = await tempDir('recovery-')
    const s = await setup(dir.path)
    await using _log = s.log
    const stored = { ...newAccount(ALICE, 5, 1), handle: 'stored.test' }
    s.store.states.set(ALICE, stored)
    s.log.append(identityInput(ALICE, 'seq1.test')) // seq 1
    s.log.append(identityInput(BOB, 'seq2.test')) // seq 2
    s.log.append(identityInput(BOB, 'seq3.test')) // seq 3
    s.log.append(identityInput(ALICE, 'seq4.test', 9)) // seq 4
    await s.log.flush()
    s.meta.set(ACCOUNTS_CHECKPOINT_KEY, '2')
    s.meta.set(CURSORS_SCAN_FROM_KEY, '3')

    const result = await recoverAtStart(s.deps())
    assert.equal(result.recordsReplayed, 2, 'scanned from seq 3')
    assert.equal(result.accountsUpdated, 2)
    assert.equal(s.store.states.get(BOB)?.handle, 'seq3.test')
    assert.equal(s.store.states.get(ALICE)?.handle, 'seq4.test')
    assert.equal(s.store.states.get(ALICE)?.hostId, 5, 'an #identity does not move a known account')
    assert.equal(s.store.states.get(ALICE)?.createdAt, stored.createdAt, 'from the stored state')
  })

  it('scans older records for skip sets without applying them to accounts', async () => {
    await using dir = await tempDir('recovery-')
    const s = await setup(dir.path)
    await using _log = s.log
    s.log.append(identityInput(ALICE, 'seq1.test', 5, 11)) // seq 1
    s.log.append(identityInput(BOB, 'seq2.test', 5, 12)) // seq 2
    await s.log.flush()
    s.meta.set(ACCOUNTS_CHECKPOINT_KEY, '2')
    s.meta.set(CURSORS_SCAN_FROM_KEY, '1')

    const result = await recoverAtStart(s.deps({ hostCursors: new Map([[5, 10]]) }))
    assert.equal(result.recordsReplayed, 2)
    assert.equal(result.accountsUpdated, 0)
    assert.deepEqual(result.skipSeqs, new Map([[5, new Set([11, 12])]]))
    assert.equal(s.store.states.size, 0)
  })

  it('calls afterAccounts once the recovered states are written', async () => {
    await using dir = await tempDir('recovery-')
    const s = await setup(dir.path)
    await using _log = s.log
    s.log.append(identityInput(ALICE, 'alice.test'))
    await s.log.flush()
    const seen: (string | null | undefined)[] = []
    await recoverAtStart(
      s.deps({
        afterAccounts: async () => {
          seen.push(s.store.states.get(ALICE)?.handle)
        },
      }),
    )
    assert.deepEqual(seen, ['alice.test'])
  })
})

describe('recoverAtStart: a checkpoint cut short between its batches', () => {
  // A checkpoint writes its states in batches and its seq with the last
  // (db/paced-save.ts): a crash in between leaves stored states newer than the stored
  // seq. Replaying records the state already holds must end where replaying onto the older
  // state would, whichever record the stored state was written after.
  it('ends at the same state from any newer stored state', async () => {
    await using dir = await tempDir('recovery-')
    const s = await setup(dir.path)
    await using _log = s.log
    const repo = new TestRepo(ALICE, generateKeypair('k256'))
    const commit = async (hostId: number, upstreamSeq: number, rkey: string) => {
      const msg = await repo.commit([{ action: 'create', path: `app.bsky.feed.post/${rkey}` }])
      s.log.append({
        frame: prepareFrame('#commit', commitBody(msg)),
        hostId,
        upstreamSeq,
        did: ALICE,
      })
      s.clock.ms += 1000
    }
    const append = (input: AppendInput) => {
      s.log.append(input)
      s.clock.ms += 1000
    }
    await commit(5, 1, '3laaaaaaaaaa2')
    append(identityInput(ALICE, 'a1.test', 5, 2))
    await commit(6, 1, '3laaaaaaaaab2') // moved to host 6
    append(identityInput(ALICE, 'a2.test', 5, 3)) // host 5 may announce it: no move back
    append(
      accountInput(
        ALICE,
        { active: false, status: 'deactivated' },
        6,
        2,
        statusNote({ kind: 'upstream-status', hostId: 6, upstream: 'deactivated' }),
      ),
    )
    append(
      accountInput(
        ALICE,
        { active: false, status: 'takendown' },
        RELAY_HOST_ID,
        0,
        statusNote({ kind: 'relay-status', localStatus: 'takendown', upstreamActive: false }),
      ),
    )
    append(
      accountInput(
        ALICE,
        { active: true },
        6,
        3,
        statusNote({ kind: 'upstream-status', hostId: 6, upstream: 'active' }),
      ),
    )
    await commit(6, 4, '3laaaaaaaaac2')
    await s.log.flush()

    // The live states after each record, by the one rule.
    const after: AccountState[] = []
    let state: AccountState | undefined
    for await (const record of s.log.scan(0)) {
      const replayed = replayedEvent(record, state)!
      state = applyAccountEvent(state, replayed.did, replayed.event, record.timeMs)
      after.push(state)
    }
    const end = after.at(-1)!
    assert.equal(end.hostId, 6)
    assert.equal(end.localStatus, 'takendown')
    assert.equal(end.handle, 'a2.test')

    s.meta.set(ACCOUNTS_CHECKPOINT_KEY, '0')
    for (const [i, stored] of after.entries()) {
      s.store.states.clear()
      s.store.states.set(ALICE, stored)
      const accounts = new AccountCache(s.store, { maxEntries: 100 })
      await recoverAtStart(s.deps({ accounts }))
      assert.deepEqual(s.store.states.get(ALICE), end, `stored as of record ${i + 1}`)
      s.meta.set(ACCOUNTS_CHECKPOINT_KEY, '0')
    }
  })

  it('ends at the same states with shard checkpoints, for an account an #identity created', async () => {
    await using dir = await tempDir('recovery-')
    const s = await setup(dir.path)
    await using _log = s.log
    const repo = new TestRepo(BOB, generateKeypair('p256'))
    const append = (input: AppendInput) => {
      s.log.append(input)
      s.clock.ms += 1000
    }
    append(identityInput(BOB, 'b1.test', 6, 1)) // creates BOB
    append(identityInput(ALICE, 'a1.test', 5, 1))
    const msg = await repo.commit([{ action: 'create', path: 'app.bsky.feed.post/3laaaaaaaaaa2' }])
    append({ frame: prepareFrame('#commit', commitBody(msg)), hostId: 7, upstreamSeq: 1, did: BOB })
    append(identityInput(BOB, 'b2.test', 6, 2))
    append(identityInput(ALICE, 'a2.test', 5, 2))
    await s.log.flush()

    // Each account's live state after each record, by the one rule.
    const live = new Map<string, AccountState>()
    const snapshots: Map<string, AccountState>[] = []
    for await (const record of s.log.scan(0)) {
      const replayed = replayedEvent(record, live.get(record.did))!
      live.set(
        replayed.did,
        applyAccountEvent(live.get(record.did), replayed.did, replayed.event, record.timeMs),
      )
      snapshots.push(new Map(live))
    }
    const end = snapshots.at(-1)!
    assert.equal(end.get(BOB)?.hostId, 7, 'the commit moved BOB; the later #identity did not')

    // Two accounts in different shards of five, every shard's checkpoint before the first record.
    assert.notEqual(shardOf(ALICE, 5), shardOf(BOB, 5))
    for (const [i, stored] of snapshots.entries()) {
      s.store.states.clear()
      for (const [did, state] of stored) s.store.states.set(did, state)
      s.meta.clear()
      s.meta.set(ACCOUNT_SHARDS_KEY, '5')
      for (let k = 0; k < 5; k++) s.meta.set(shardCheckpointKey(k), '0')
      await recoverAtStart(s.deps({ accounts: new AccountCache(s.store, { maxEntries: 100 }) }))
      for (const did of [ALICE, BOB]) {
        assert.deepEqual(
          s.store.states.get(did),
          end.get(did),
          `${did} stored as of record ${i + 1}`,
        )
      }
    }
  })
})

describe('recoverAtStart: skip sets', () => {
  it('records above a host’s stored cursor become its skip seqs and stay in the book', async () => {
    await using dir = await tempDir('recovery-')
    const s = await setup(dir.path)
    await using _log = s.log
    s.log.append(identityInput(ALICE, 'a.test', 5, 9)) // seq 1: covered by the cursor
    s.log.append(identityInput(ALICE, 'a.test', 5, 11)) // seq 2
    s.log.append(identityInput(BOB, 'b.test', 7, 3)) // seq 3: host 7 is not a known host
    s.log.append(identityInput(ALICE, 'a.test', 5, 12)) // seq 4
    s.log.append(identityInput(BOB, 'b.test', 8, 1)) // seq 5
    await s.log.flush()
    const cursors = new Map<number, number | null>([
      [5, 10],
      [8, 0],
    ])

    const result = await recoverAtStart(s.deps({ hostCursors: cursors }))
    assert.deepEqual(
      result.skipSeqs,
      new Map([
        [5, new Set([11, 12])],
        [8, new Set([1])],
      ]),
    )
    assert.equal(result.startCursors.size, 0, 'stored cursors stand')
    // Seeded in the book: the oldest log seq still needed, until the cursors pass it.
    assert.equal(s.book.settle(cursors), 2)
    assert.equal(s.book.settle(new Map([...cursors, [5, 11]])), 4)
    assert.equal(s.book.settle(new Map([...cursors, [5, 11], [8, 1]])), 4)
    assert.equal(s.book.settle(new Map([...cursors, [5, 12], [8, 1]])), null)
  })

  it('a host without a stored cursor resumes below its lowest record, skipping them all', async () => {
    // The relay was killed before its first checkpoint of a new host: the host was read from its
    // live head (first event upstream seq 20), seq 21 was still in flight (a slow account), and
    // 20, 22 and 23 were written.
    await using dir = await tempDir('recovery-')
    const s = await setup(dir.path)
    await using _log = s.log
    s.log.append(identityInput(ALICE, 'a.test', 6, 22)) // seq 1
    s.log.append(identityInput(BOB, 'b.test', 6, 20)) // seq 2
    s.log.append(identityInput(ALICE, 'a.test', 5, 11)) // seq 3
    s.log.append(identityInput(ALICE, 'a.test', 6, 23)) // seq 4
    s.log.append(accountInput(BOB, { active: true }, 6, 0)) // seq 5: the relay's own, for host 6
    await s.log.flush()
    const cursors = new Map<number, number | null>([
      [5, 10],
      [6, null],
    ])

    const result = await recoverAtStart(s.deps({ hostCursors: cursors }))
    assert.deepEqual(result.startCursors, new Map([[6, 19]]), 'just below the lowest, not live')
    assert.deepEqual(
      result.skipSeqs,
      new Map([
        [6, new Set([22, 20, 23])],
        [5, new Set([11])],
      ]),
      '21 comes again; the written ones do not',
    )
    // Kept in the book until the host's cursor passes them.
    const recovered = new Map([...cursors, [6, 19]])
    assert.equal(s.book.settle(recovered), 1)
    assert.equal(s.book.settle(new Map([...recovered, [6, 22]])), 3)
    assert.equal(s.book.settle(new Map([...recovered, [6, 23], [5, 11]])), null)
  })

  it('a host without a stored cursor and no records starts at its live head', async () => {
    await using dir = await tempDir('recovery-')
    const s = await setup(dir.path)
    await using _log = s.log
    s.log.append(identityInput(ALICE, 'a.test', 5, 11))
    await s.log.flush()
    const cursors = new Map<number, number | null>([
      [5, 10],
      [6, null],
    ])
    const result = await recoverAtStart(s.deps({ hostCursors: cursors }))
    assert.equal(result.startCursors.size, 0)
    assert.deepEqual(result.skipSeqs, new Map([[5, new Set([11])]]))
  })

  it('never puts the relay’s own records in a skip set', async () => {
    await using dir = await tempDir('recovery-')
    const s = await setup(dir.path)
    await using _log = s.log
    s.log.append(
      accountInput(
        ALICE,
        { active: false, status: 'takendown' },
        RELAY_HOST_ID,
        0,
        'local=takendown',
      ),
    )
    await s.log.flush()
    // Even a cursor below 0 for the relay's id does not make its records skippable.
    const cursors = new Map<number, number | null>([[RELAY_HOST_ID, -1]])
    const result = await recoverAtStart(s.deps({ hostCursors: cursors }))
    assert.equal(result.skipSeqs.size, 0)
    assert.equal(s.book.settle(new Map()), null)
    assert.equal(s.store.states.get(ALICE)?.localStatus, 'takendown', 'still applied')
  })

  it('honours the stored scan-from seq', async () => {
    await using dir = await tempDir('recovery-')
    const s = await setup(dir.path)
    await using _log = s.log
    s.log.append(identityInput(ALICE, 'a.test', 5, 11)) // seq 1: before scan-from
    s.log.append(identityInput(ALICE, 'a.test', 5, 12)) // seq 2
    await s.log.flush()
    s.meta.set(ACCOUNTS_CHECKPOINT_KEY, '2')
    s.meta.set(CURSORS_SCAN_FROM_KEY, '2')
    const result = await recoverAtStart(s.deps({ hostCursors: new Map([[5, 10]]) }))
    assert.equal(result.recordsReplayed, 1)
    assert.deepEqual(result.skipSeqs, new Map([[5, new Set([12])]]))
  })
})

describe('recoverAtStart: checkpoints of account shards', () => {
  // Each shard writes its own checkpoint (accounts/account-rows.ts); a record is applied to an
  // account only past the checkpoint of the shard that owned it when they were written.
  it('applies each record past its own shard’s checkpoint, by the stored shard count', async () => {
    await using dir = await tempDir('recovery-')
    const s = await setup(dir.path)
    await using _log = s.log
    const [a, b] = [shardOf(ALICE, 5), shardOf(BOB, 5)]
    assert.notEqual(a, b, 'the two accounts live in different shards of five')
    s.log.append(identityInput(ALICE, 'a1.test')) // 1
    s.log.append(identityInput(BOB, 'b1.test')) // 2
    s.log.append(identityInput(ALICE, 'a2.test')) // 3
    s.log.append(identityInput(BOB, 'b2.test')) // 4
    await s.log.flush()
    // ALICE's shard wrote up to seq 3, BOB's only up to seq 1.
    s.store.states.set(ALICE, { ...newAccount(ALICE, 5, 1), handle: 'a2.test' })
    s.meta.set(ACCOUNT_SHARDS_KEY, '5')
    for (let i = 0; i < 5; i++) s.meta.set(shardCheckpointKey(i), '4')
    s.meta.set(shardCheckpointKey(a), '3')
    s.meta.set(shardCheckpointKey(b), '1')
    // The plain key is not read while shard checkpoints are stored.
    s.meta.set(ACCOUNTS_CHECKPOINT_KEY, '0')
    s.meta.set(CURSORS_SCAN_FROM_KEY, '5')

    const result = await recoverAtStart(s.deps())
    assert.equal(result.recordsReplayed, 3, 'replayed from the lowest checkpoint')
    assert.equal(result.accountsUpdated, 2, 'BOB’s two records; none of ALICE’s')
    assert.equal(s.store.states.get(ALICE)?.handle, 'a2.test')
    assert.equal(s.store.states.get(BOB)?.handle, 'b2.test')
  })

  it('refuses to start when any shard’s checkpoint is past the log’s end', async () => {
    await using dir = await tempDir('recovery-')
    const s = await setup(dir.path)
    await using _log = s.log
    s.log.append(identityInput(ALICE, 'a.test'))
    await s.log.flush()
    s.meta.set(ACCOUNT_SHARDS_KEY, '3')
    s.meta.set(shardCheckpointKey(0), '1')
    s.meta.set(shardCheckpointKey(2), '7')
    await assert.rejects(recoverAtStart(s.deps()), (err: unknown) => {
      assert.ok(err instanceof LostLogError)
      assert.equal(err.databaseSeq, 7)
      return true
    })
  })
})
