import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { AccountCache, type AccountPersistence } from '../accounts/account-cache.ts'
import { type AccountState, newAccount } from '../accounts/account-state.ts'
import type { SavePace } from '../db/paced-save.ts'
import { Checkpointer, type CheckpointerDeps } from './checkpointer.ts'
import { CursorBook } from './cursor-book.ts'

const DID = 'did:plc:ewvi7nxzyoun6zhxrhs64oiz'

/** Resolves when `resolve` is called. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void
  const promise = new Promise<void>((r) => {
    resolve = r
  })
  return { promise, resolve }
}

/**
 * A checkpointer over a real account cache and cursor book, with the log, hosts and cursor
 * store faked; every step lands in `calls`, in order.
 */
function harness(over: Partial<CheckpointerDeps> = {}) {
  const calls: string[] = []
  const saves: { states: readonly AccountState[]; seq: number; pace: SavePace }[] = []
  const savedCursors: { cursors: ReadonlyMap<number, number | null>; scanFrom: number }[] = []
  const errors: unknown[] = []
  let accountGate: Promise<void> = Promise.resolve()
  const persistence: AccountPersistence = {
    load: async () => undefined,
    save: async (states, seq, pace) => {
      calls.push(`accounts.save ${seq}`)
      await accountGate
      saves.push({ states, seq, pace })
    },
  }
  const accounts = new AccountCache(persistence, { maxEntries: 100 })
  const log = {
    lastSeq: 0,
    sync: async () => {
      calls.push(`log.sync ${log.lastSeq}`)
    },
  }
  const cursors = new Map<number, number | null>()
  const book = new CursorBook()
  const checkpointer = new Checkpointer({
    accounts,
    log,
    hosts: {
      cursors: () => {
        calls.push('hosts.cursors')
        return new Map(cursors)
      },
      persistBatched: async () => {
        calls.push('hosts.persistBatched')
      },
    },
    book,
    saveCursors: async (c, scanFrom) => {
      calls.push(`saveCursors ${scanFrom}`)
      savedCursors.push({ cursors: c, scanFrom })
    },
    startTimer: () => {
      calls.push('timer.start')
      return () => calls.push('timer.end')
    },
    onError: (err) => errors.push(err),
    ...over,
  })
  return {
    checkpointer,
    calls,
    saves,
    savedCursors,
    errors,
    accounts,
    log,
    cursors,
    book,
    /** Holds the account save until the returned function is called. */
    holdAccountSave(): () => void {
      const d = deferred()
      accountGate = d.promise
      return d.resolve
    },
  }
}

describe('Checkpointer.run', () => {
  it('persists counts, then accounts after syncing the log, then cursors', async () => {
    const h = harness()
    h.log.lastSeq = 17
    h.cursors.set(5, 100)
    h.accounts.set(newAccount(DID, 5, 1), 17)
    await h.checkpointer.run()
    assert.deepEqual(h.calls, [
      'timer.start',
      'hosts.persistBatched',
      'hosts.cursors',
      'log.sync 17',
      'accounts.save 17',
      'saveCursors 18',
      'timer.end',
    ])
    assert.equal(h.saves.length, 1)
    assert.deepEqual(
      h.saves[0]!.states.map((s) => s.did),
      [DID],
    )
    assert.deepEqual(h.savedCursors[0]!.cursors, new Map([[5, 100]]))
  })

  it('stores the oldest log seq still needed above a host’s cursor as scan-from', async () => {
    const h = harness()
    h.log.lastSeq = 30
    h.cursors.set(5, 100)
    h.cursors.set(6, 7)
    h.book.flushed([
      { hostId: 5, upstreamSeq: 100, seq: 20 }, // covered by the cursor
      { hostId: 6, upstreamSeq: 8, seq: 24 },
      { hostId: 5, upstreamSeq: 101, seq: 26 },
    ])
    await h.checkpointer.run()
    assert.equal(h.savedCursors[0]!.scanFrom, 24)

    h.cursors.set(6, 8)
    await h.checkpointer.run()
    assert.equal(h.savedCursors[1]!.scanFrom, 26)

    h.cursors.set(5, 101)
    await h.checkpointer.run()
    assert.equal(h.savedCursors[2]!.scanFrom, 31, 'nothing left: the log’s end + 1')
  })

  it('runs asked for while one runs share one more run after it', async () => {
    const h = harness()
    h.accounts.set(newAccount(DID, 5, 1), 1)
    const release = h.holdAccountSave()
    const first = h.checkpointer.run()
    const second = h.checkpointer.run()
    const third = h.checkpointer.run()
    assert.notEqual(first, second)
    assert.equal(second, third)
    release()
    await Promise.all([first, second, third])
    assert.equal(h.savedCursors.length, 2, 'the running one, then one more')
    assert.equal(h.calls.filter((c) => c === 'hosts.persistBatched').length, 2)

    await h.checkpointer.run()
    assert.equal(h.savedCursors.length, 3, 'a run after the last ended starts a new one')
  })

  it('periodic runs write paced; the last, at stop, writes at once after the running one and ends the timer', async () => {
    const h = harness()
    h.accounts.set(newAccount(DID, 5, 1), 1)
    const release = h.holdAccountSave()
    h.checkpointer.start(5)
    const running = h.checkpointer.run()
    h.accounts.set(newAccount('did:plc:bbbbbbbbbbbbbbbbbbbbbbbb', 5, 1), 2)
    const last = h.checkpointer.last()
    release()
    await Promise.all([running, last])
    assert.deepEqual(
      h.saves.map((s) => s.pace),
      ['paced', 'at-once'],
    )
    assert.equal(h.saves.flatMap((s) => s.states).length, 2, 'both states written')
    assert.equal(h.accounts.dirtyCount, 0)
    await new Promise((r) => setTimeout(r, 30))
    const runs = h.calls.filter((c) => c === 'timer.start').length
    h.checkpointer.stop() // a failing `last` would leave the interval running
    assert.equal(runs, 2, 'no periodic run after the last')
  })

  it('runs what the caller adds after the cursors are stored, with the run’s pace', async () => {
    const after: string[] = []
    const h = harness({
      afterCursors: async (pace) => {
        after.push(`${pace} after ${h.savedCursors.length} cursor saves`)
      },
    })
    await h.checkpointer.run()
    await h.checkpointer.last()
    assert.deepEqual(after, ['paced after 1 cursor saves', 'at-once after 2 cursor saves'])
  })

  it('a checkpoint ends only once what runs after the cursors has ended', async () => {
    let release!: () => void
    const gate = new Promise<void>((r) => {
      release = r
    })
    let ended = false
    const h = harness({ afterCursors: () => gate })
    const last = h.checkpointer.last().then(() => {
      ended = true
    })
    await new Promise((r) => setTimeout(r, 10))
    assert.equal(ended, false)
    release()
    await last
    assert.equal(ended, true)
  })

  it('a run asked for after the running one read the cursors stores the cursors as they are now', async () => {
    const h = harness()
    h.cursors.set(5, 100)
    const release = h.holdAccountSave()
    const first = h.checkpointer.run()
    // Let the running checkpoint reach its account save (past reading the cursors).
    for (let i = 0; i < 1000 && !h.calls.some((c) => c.startsWith('accounts.save')); i++)
      await Promise.resolve()
    assert.ok(h.calls.some((c) => c.startsWith('accounts.save')))
    h.cursors.set(5, null) // e.g. an operator resets the host's cursor
    const second = h.checkpointer.run() // ... and waits for a checkpoint
    release()
    await Promise.all([first, second])
    assert.deepEqual(h.savedCursors.at(-1)?.cursors, new Map([[5, null]]))
  })

  it('rejects when a step fails, saves no cursors, and the next run starts afresh', async () => {
    let fail = true
    const h = harness({
      hosts: {
        cursors: () => new Map(),
        persistBatched: async () => {
          if (fail) throw new Error('db down')
        },
      },
    })
    await assert.rejects(h.checkpointer.run(), /db down/)
    assert.equal(h.savedCursors.length, 0)
    assert.deepEqual(h.calls, ['timer.start', 'timer.end'], 'the timer ends on failure too')
    assert.deepEqual(h.errors, [], 'run() rejects; onError is for timed runs')
    fail = false
    await h.checkpointer.run()
    assert.equal(h.savedCursors.length, 1)
  })

  it('a failed account save leaves the states dirty and the cursors unsaved', async () => {
    const h = harness({
      saveCursors: async () => {
        throw new Error('must not be reached')
      },
    })
    h.log.sync = async () => {
      throw new Error('disk full')
    }
    h.accounts.set(newAccount(DID, 5, 1), 1)
    await assert.rejects(h.checkpointer.run(), /disk full/)
    assert.equal(h.saves.length, 0)
    assert.equal(h.accounts.dirtyCount, 1)
  })
})

describe('Checkpointer.start and stop', () => {
  /** Starts `n` timed checkpoints so far (each begins with persistBatched, synchronously). */
  const runs = (calls: string[]) => calls.filter((c) => c === 'hosts.persistBatched').length

  it('checkpoints every interval until stopped', async (t) => {
    t.mock.timers.enable({ apis: ['setInterval'] })
    const h = harness()
    h.checkpointer.start(1000)
    t.mock.timers.tick(999)
    assert.equal(runs(h.calls), 0)
    t.mock.timers.tick(1)
    assert.equal(runs(h.calls), 1)
    await h.checkpointer.run() // runs once more after the timed one
    assert.equal(h.savedCursors.length, 2)
    t.mock.timers.tick(1000)
    assert.equal(runs(h.calls), 3)
    await h.checkpointer.run()
    h.checkpointer.stop()
    t.mock.timers.tick(10_000)
    assert.equal(runs(h.calls), 4)
    assert.equal(h.savedCursors.length, 4)
  })

  it('start again replaces the running interval', async (t) => {
    t.mock.timers.enable({ apis: ['setInterval'] })
    const h = harness()
    h.checkpointer.start(1000)
    h.checkpointer.start(400)
    t.mock.timers.tick(400)
    assert.equal(runs(h.calls), 1)
    await h.checkpointer.run() // the timed one, then one more
    t.mock.timers.tick(400)
    assert.equal(runs(h.calls), 3)
    await h.checkpointer.run()
    t.mock.timers.tick(200) // 1000 ms: the first interval would fire here
    assert.equal(runs(h.calls), 4, 'no run of the replaced interval')
    h.checkpointer.stop()
  })

  it('a timed checkpoint that fails goes to onError', async (t) => {
    t.mock.timers.enable({ apis: ['setInterval'] })
    const failed = deferred()
    const errors: unknown[] = []
    const h = harness({
      hosts: {
        cursors: () => new Map(),
        persistBatched: async () => {
          throw new Error('db down')
        },
      },
      onError: (err) => {
        errors.push(err)
        failed.resolve()
      },
    })
    h.checkpointer.start(1000)
    t.mock.timers.tick(1000)
    await failed.promise
    h.checkpointer.stop()
    assert.equal(errors.length, 1)
    assert.match((errors[0] as Error).message, /db down/)
  })
})
