import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { eventVerification } from '../relay-parts.ts'
import { EventVerification } from './event-verification.ts'
import type { VerifyPool } from './verify-pool.ts'
import type { VerifyOutcome, VerifyTask } from './verify-task.ts'
import { VerifyWorkerError } from './verify-worker-error.ts'

const outcome = (detail: string): VerifyOutcome => ({ ok: false, reason: 'bad-signature', detail })

const task = (frame = new Uint8Array([1, 2, 3])): VerifyTask => ({
  frame,
  didKey: 'did:key:zQ3sh',
  previous: null,
  now: 0,
  mode: 'strict',
})

/** Takes the events whose index is in `mine`, in order. */
function rig(mine: ReadonlySet<number>, local?: (t: VerifyTask) => Promise<VerifyOutcome>) {
  let n = 0
  const seen: { where: 'main' | 'pool'; frame: Uint8Array }[] = []
  const observed: number[] = []
  const verification = new EventVerification({
    pool: {
      verify: async (t) => {
        seen.push({ where: 'pool', frame: t.frame })
        return outcome('pool')
      },
    },
    local:
      local ??
      (async (t) => {
        seen.push({ where: 'main', frame: t.frame })
        return outcome('main')
      }),
    place: { take: () => mine.has(n++), onMain: true },
    observe: (seconds) => observed.push(seconds),
  })
  return { verification, seen, observed }
}

describe('EventVerification', () => {
  test('verifies on this thread what the place takes and the rest in the pool, counting both', async () => {
    const { verification, seen, observed } = rig(new Set([1, 2]))
    const answers = await Promise.all([0, 1, 2, 3].map(() => verification.verify(task())))
    assert.deepEqual(
      answers.map((a) => (a.ok ? '' : a.detail)),
      ['pool', 'main', 'main', 'pool'],
    )
    assert.deepEqual(
      seen.map((s) => s.where),
      ['pool', 'main', 'main', 'pool'],
    )
    assert.deepEqual(verification.counts, { main: 2, workers: 2 })
    assert.equal(verification.onMain, true)
    // Every verification timed, wherever it ran.
    assert.equal(observed.length, 4)
    assert.ok(observed.every((s) => s >= 0 && s < 5))
  })

  test('a frame that is a view of a larger buffer is verified on its own copy', async () => {
    const { verification, seen } = rig(new Set([0]))
    const shared = new Uint8Array(64).fill(7)
    await verification.verify(task(shared.subarray(8, 16)))
    const frame = seen[0]!.frame
    assert.equal(frame.byteLength, 8)
    assert.equal(frame.buffer.byteLength, 8, 'a buffer of its own')
    assert.deepEqual([...frame], [7, 7, 7, 7, 7, 7, 7, 7])
  })

  test('a verification that throws here fails as a worker failure would: retried once by ingest', async () => {
    const bug = new TypeError('a bug in verification')
    for (const local of [
      async () => {
        throw bug
      },
      () => {
        throw bug
      },
    ]) {
      const { verification } = rig(new Set([0]), local)
      await assert.rejects(verification.verify(task()), (err: unknown) => {
        assert.ok(err instanceof VerifyWorkerError)
        assert.equal(err.cause, bug)
        return true
      })
    }
  })

  test('a pool failure reaches the caller as it is', async () => {
    const died = new VerifyWorkerError('verify worker died')
    const verification = new EventVerification({
      pool: { verify: () => Promise.reject(died) },
      local: async () => outcome('main'),
      place: { take: () => false, onMain: false },
    })
    await assert.rejects(verification.verify(task()), (err) => err === died)
  })

  test('as the relay builds it: a target of 1 (--verify-workers 0) verifies every event here, 0 none', async () => {
    const pool = {
      verify: async () => outcome('pool'),
    } as unknown as VerifyPool
    const alone = eventVerification(pool, { verifyOnMainBusy: 1 }, undefined)
    const never = eventVerification(pool, { verifyOnMainBusy: 0 }, undefined)
    for (let i = 0; i < 5; i++) {
      // The real task, here: a key that does not parse is dropped before the frame is read.
      const here = await alone.verify(task())
      assert.equal(here.ok ? '' : here.reason, 'identity-unavailable')
      const there = await never.verify(task())
      assert.equal(there.ok ? '' : there.detail, 'pool')
    }
    assert.deepEqual(alone.counts, { main: 5, workers: 0 })
    assert.deepEqual(never.counts, { main: 0, workers: 5 })
  })
})
