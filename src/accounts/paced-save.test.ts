import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { SAVE_BATCH_ROWS, type SaveBatches, saveInBatches } from '../db/paced-save.ts'
import { tempDatabase } from '../db/testing.ts'
import { ACCOUNT_SHARDS_KEY, ACCOUNTS_CHECKPOINT_KEY, accountPersistence } from './account-rows.ts'
import { type AccountState, newAccount } from './account-state.ts'

/** Batches written and pauses taken, in order, on a clock each batch moves by `batchMs`. */
function recorder(batchMs: number, failAt?: number) {
  const steps: string[] = []
  let clock = 0
  const io: SaveBatches<number> = {
    writeBatch: async (batch, seq) => {
      if (steps.filter((s) => s.startsWith('write')).length === failAt) throw new Error('disk full')
      clock += batchMs
      steps.push(`write ${batch[0]}..${batch.at(-1)} seq ${seq}`)
    },
    pause: async (ms) => {
      steps.push(`pause ${ms}`)
    },
    now: () => clock,
  }
  return { io, steps }
}

const numbers = (n: number) => Array.from({ length: n }, (_, i) => i)

describe('saveInBatches', () => {
  it('writes batches with the seq on the last only, pausing as long as each batch took', async () => {
    const r = recorder(4)
    await saveInBatches(numbers(25), 77, 'paced', r.io, 10)
    assert.deepEqual(r.steps, [
      'write 0..9 seq null',
      'pause 4',
      'write 10..19 seq null',
      'pause 4',
      'write 20..24 seq 77',
    ])
  })

  it('pauses at least a millisecond, so a quick batch still lets the loop turn', async () => {
    const r = recorder(0)
    await saveInBatches(numbers(4), 9, 'paced', r.io, 2)
    assert.deepEqual(r.steps, ['write 0..1 seq null', 'pause 1', 'write 2..3 seq 9'])
  })

  it('writes the seq alone when no state changed', async () => {
    const r = recorder(1)
    await saveInBatches([], 5, 'paced', r.io, 10)
    assert.deepEqual(r.steps, ['write undefined..undefined seq 5'])
  })

  it('writes everything in one transaction at once (recovery)', async () => {
    const r = recorder(50)
    await saveInBatches(numbers(25), 3, 'at-once', r.io, 10)
    assert.deepEqual(r.steps, ['write 0..24 seq 3'])
  })

  it('rejects at the first failed batch, leaving the seq unwritten', async () => {
    const r = recorder(1, 1)
    await assert.rejects(saveInBatches(numbers(25), 8, 'paced', r.io, 10), /disk full/)
    assert.deepEqual(r.steps, ['write 0..9 seq null', 'pause 1'])
  })

  it('pauses on a real timer by default', async () => {
    const batches: number[] = []
    const started = performance.now()
    await saveInBatches(
      numbers(3),
      1,
      'paced',
      { writeBatch: async (b) => void batches.push(b.length) },
      1,
    )
    assert.deepEqual(batches, [1, 1, 1])
    assert.ok(performance.now() - started >= 2, 'two pauses of at least 1 ms')
  })
})

describe('accountPersistence: the paced save on SQLite', () => {
  const stateOf = (i: number, hostId: number): AccountState => ({
    ...newAccount(`did:plc:${String(i).padStart(24, 'a')}`, hostId, 1_000 + i),
    rev: `3m${String(i).padStart(11, 'a')}`,
  })

  /** How many times a 1 ms timer ran while `fn` did (node:sqlite blocks the thread meanwhile). */
  async function turnsDuring(fn: () => Promise<void>): Promise<number> {
    let turns = 0
    const timer = setInterval(() => turns++, 1)
    await new Promise((r) => setTimeout(r, 5)) // the timer's first run is behind us
    turns = 0
    await fn()
    clearInterval(timer)
    return turns
  }

  it('writes every state over several transactions, and the checkpoint', async () => {
    await using t = await tempDatabase()
    const host = await t.db.hosts.create({ hostname: 'pds.test', ssl: true, accountLimit: 1e6 })
    const n = SAVE_BATCH_ROWS * 2 + 1
    const states = Array.from({ length: n }, (_, i) => stateOf(i, host.id))
    const turns = await turnsDuring(() => accountPersistence(t.db).save(states, 4242, 'paced'))
    assert.ok(turns >= 2, `the thread's timers ran between the batches (${turns} times)`)
    assert.equal(await t.db.meta.get(ACCOUNTS_CHECKPOINT_KEY), '4242')
    assert.equal(await t.db.meta.get(ACCOUNT_SHARDS_KEY), undefined)
    for (const i of [0, SAVE_BATCH_ROWS, n - 1]) {
      const row = await t.db.accounts.get(states[i]!.did)
      assert.equal(row?.rev, states[i]!.rev, `state ${i}`)
    }
    assert.equal((await t.db.accounts.countSlotsByHost()).get(host.id), n)
  })

  it('writes at once without giving the thread a turn, when asked (recovery)', async () => {
    await using t = await tempDatabase()
    const host = await t.db.hosts.create({ hostname: 'pds.test', ssl: true, accountLimit: 1e6 })
    const states = Array.from({ length: SAVE_BATCH_ROWS * 2 }, (_, i) => stateOf(i, host.id))
    const turns = await turnsDuring(() => accountPersistence(t.db).save(states, 7, 'at-once'))
    assert.equal(turns, 0)
    assert.equal(await t.db.meta.get(ACCOUNTS_CHECKPOINT_KEY), '7')
    assert.equal((await t.db.accounts.countSlotsByHost()).get(host.id), states.length)
  })

  it("sets one shard's checkpoint, with the last batch", async () => {
    await using t = await tempDatabase()
    const host = await t.db.hosts.create({ hostname: 'pds.test', ssl: true, accountLimit: 1e6 })
    const states = Array.from({ length: SAVE_BATCH_ROWS + 1 }, (_, i) => stateOf(i, host.id))
    await accountPersistence(t.db, { shard: 1 }).save(states, 99, 'paced')
    assert.equal(await t.db.meta.get(`${ACCOUNTS_CHECKPOINT_KEY}.1`), '99')
    assert.equal(await t.db.meta.get(`${ACCOUNTS_CHECKPOINT_KEY}.0`), undefined)
    assert.equal(await t.db.meta.get(ACCOUNTS_CHECKPOINT_KEY), undefined)
  })
})
