// The verification pool runs the same task as inline verification, in worker threads.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { after, before, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { generateKeypair } from '../../test/support/keypair.ts'
import { messageFrame, TestRepo } from '../../test/support/test-repo.ts'
import { decodeFrame } from '../protocol/frame.ts'
import { verifySignature } from '../verify/crypto/signature.ts'
import { CRASH_DID_KEY } from './testing/crash-signal.ts'
import { VerifyPool, VerifyWorkerError } from './verify-pool.ts'
import { runVerifyTask, type VerifyTask } from './verify-task.ts'

let pool: VerifyPool
before(() => {
  pool = new VerifyPool({ size: 2, maxInFlightPerWorker: 2 })
})
after(async () => {
  await pool.close()
})

test('pool outcomes equal inline outcomes, accepted and dropped, with many tasks queued', async () => {
  const repo = new TestRepo('did:plc:ewvi7nxzyoun6zhxrhs64oiz', generateKeypair('k256'))
  const tasks: VerifyTask[] = []
  let previous: VerifyTask['previous'] = null
  for (let i = 0; i < 20; i++) {
    const msg = await repo.commit([
      { action: 'create', path: `app.bsky.feed.post/3laaaaaaaa${String(i).padStart(3, '0')}` },
    ])
    tasks.push({
      frame: messageFrame(msg),
      didKey: repo.keypair.didKey,
      previous,
      now: Date.now(),
      mode: 'strict',
    })
    previous = { rev: msg.rev, data: repo.root }
  }
  // A stale one and one with another key: dropped with their reasons.
  tasks.push({
    ...tasks[5]!,
    frame: Uint8Array.from(tasks[5]!.frame),
    previous: tasks[10]!.previous,
  })
  tasks.push({
    ...tasks[6]!,
    frame: Uint8Array.from(tasks[6]!.frame),
    didKey: generateKeypair('k256').didKey,
  })

  const inline = await Promise.all(
    tasks.map((t) => runVerifyTask({ ...t, frame: Uint8Array.from(t.frame) }, verifySignature)),
  )
  const pooled = await Promise.all(
    tasks.map((t) => pool.verify({ ...t, frame: Uint8Array.from(t.frame) })),
  )
  assert.equal(pooled.length, 22)
  for (let i = 0; i < tasks.length; i++) {
    const a = inline[i]!
    const b = pooled[i]!
    assert.equal(b.ok, a.ok, `task ${i}`)
    if (a.ok && b.ok) {
      assert.equal(b.rev, a.rev)
      assert.deepEqual(b.prefix, a.prefix)
      assert.deepEqual(b.suffix, a.suffix)
      const out = decodeFrame(new Uint8Array([...b.prefix, 0x05, ...b.suffix]))
      assert.equal(out.op === 1 && out.body.seq, 5)
    } else if (!a.ok && !b.ok) {
      assert.equal(b.reason, a.reason)
    }
  }
  assert.equal(pooled.filter((o) => o.ok).length, 20)
  assert.deepEqual(
    pooled.slice(20).map((o) => (o.ok ? 'ok' : o.reason)),
    ['stale-rev', 'bad-signature'],
  )
  assert.deepEqual(pool.stats, { inFlight: 0, queued: 0, restarts: 0 })
})

test('the caller keeps its frame: the same bytes twice in one turn (one transfer could not take them twice), and again', async () => {
  const repo = new TestRepo('did:plc:ewvi7nxzyoun6zhxrhs64oiz', generateKeypair('p256'))
  const frame = messageFrame(
    await repo.commit([{ action: 'create', path: 'app.bsky.feed.post/3laaaaaaaaaaa' }]),
  )
  const copy = Uint8Array.from(frame)
  const task = { didKey: repo.keypair.didKey, previous: null, now: Date.now() } as const
  // Given in one turn, both go in one batch; then the same bytes again (as a retry would).
  const both = await Promise.all([
    pool.verify({ ...task, mode: 'strict', frame }),
    pool.verify({ ...task, mode: 'strict', frame }),
  ])
  assert.deepEqual(
    both.map((o) => o.ok),
    [true, true],
  )
  assert.deepEqual(frame, copy, 'not detached, not changed')
  assert.equal((await pool.verify({ ...task, mode: 'strict', frame })).ok, true)
})

test("an archival event's mirror blocks come back in a buffer of its frame's size, not the batch's", async () => {
  const single = new VerifyPool({ size: 1, maxInFlightPerWorker: 64 })
  try {
    const repo = new TestRepo('did:plc:ewvi7nxzyoun6zhxrhs64oiz', generateKeypair('k256'))
    const msg = await repo.commit([{ action: 'create', path: 'app.bsky.feed.post/3laaaaaaaaaaa' }])
    const task = { didKey: repo.keypair.didKey, previous: null, now: Date.now() } as const
    const archival = messageFrame(msg)
    // Given in one turn to one worker: one batch, the plain frames in its shared buffer.
    const [, mirrored] = await Promise.all([
      single.verify({ ...task, mode: 'strict', frame: messageFrame(msg) }),
      single.verify({ ...task, mode: 'strict', frame: archival, archive: true }),
      single.verify({ ...task, mode: 'strict', frame: messageFrame(msg) }),
    ])
    assert.ok(mirrored?.ok && mirrored.mirror)
    assert.ok(mirrored.mirror.blocks.size > 0)
    // Posting a view copies its whole buffer: the blocks' one is the archival frame's alone.
    for (const block of mirrored.mirror.blocks.values()) {
      assert.equal(block.buffer.byteLength, archival.length)
    }
  } finally {
    await single.close()
  }
})

test("each worker reports its own V8 heap (not in the main isolate's figures)", async () => {
  const heaps = await pool.heapStatistics()
  assert.equal(heaps.length, 2)
  for (const h of heaps) {
    assert.ok(h.used > 0, `used ${h.used}`)
    assert.ok(h.total >= h.used, `total ${h.total} under used ${h.used}`)
  }
})

/** A valid p256 commit's task, a fresh frame each call. */
async function oneCommitTask(): Promise<() => VerifyTask> {
  const repo = new TestRepo('did:plc:ewvi7nxzyoun6zhxrhs64oiz', generateKeypair('p256'))
  const msg = await repo.commit([{ action: 'create', path: 'app.bsky.feed.post/3laaaaaaaaaaa' }])
  return () => ({
    frame: messageFrame(msg),
    didKey: repo.keypair.didKey,
    previous: null,
    now: Date.now(),
    mode: 'strict',
  })
}

test("the workers' busy time grows with the work they are given", async () => {
  const task = await oneCommitTask()
  const before = pool.busyMs()
  // p256 on node:crypto: ~0.2 ms of work each, over 100 ms in all across the two workers.
  const outcomes = await Promise.all(Array.from({ length: 600 }, () => pool.verify(task())))
  assert.ok(outcomes.every((o) => o.ok))
  const grew = pool.busyMs() - before
  assert.ok(grew >= 50, `busy ${grew} ms for 600 verifications`)
  assert.equal(pool.size, 2)
})

test('many tasks given in one turn, more than a reply group: every outcome comes back to its own task', async () => {
  const wide = new VerifyPool({ size: 1, maxInFlightPerWorker: 64 })
  try {
    const repo = new TestRepo('did:plc:ewvi7nxzyoun6zhxrhs64oiz', generateKeypair('k256'))
    const msg = await repo.commit([{ action: 'create', path: 'app.bsky.feed.post/3laaaaaaaaaaa' }])
    const frame = messageFrame(msg)
    // 30 tasks, more than the worker's reply group of 8: every third under another key.
    const other = generateKeypair('k256').didKey
    const outcomes = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        wide.verify({
          frame: Uint8Array.from(frame),
          didKey: i % 3 === 0 ? other : repo.keypair.didKey,
          previous: null,
          now: Date.now(),
          mode: 'strict',
        }),
      ),
    )
    outcomes.forEach((o, i) => {
      assert.equal(o.ok, i % 3 !== 0, `task ${i}`)
      if (o.ok) assert.equal(o.rev, msg.rev)
    })
    assert.deepEqual(wide.stats, { inFlight: 0, queued: 0, restarts: 0 })
  } finally {
    await wide.close()
  }
})

test('tasks whose batch cannot be posted (a detached CAR) fail; the pool goes on', async () => {
  const repo = new TestRepo('did:plc:ewvi7nxzyoun6zhxrhs64oiz', generateKeypair('k256'))
  const frame = messageFrame(
    await repo.commit([{ action: 'create', path: 'app.bsky.feed.post/3laaaaaaaaaaa' }]),
  )
  const task = { didKey: repo.keypair.didKey, previous: null, now: Date.now(), mode: 'strict' }
  const detached = Uint8Array.from(frame)
  structuredClone(detached.buffer, { transfer: [detached.buffer] })
  // A whole repo's CAR is transferred, so a detached one cannot be posted: its batch fails.
  await assert.rejects(
    pool.verifyRepo({ did: repo.did, car: detached, didKey: repo.keypair.didKey, now: Date.now() }),
    (err: unknown) => err instanceof VerifyWorkerError,
  )
  const ok = await pool.verify({ ...task, mode: 'strict', frame })
  assert.equal(ok.ok, true)
  assert.deepEqual(pool.stats, { inFlight: 0, queued: 0, restarts: 0 })
})

test('closing asks the workers to end after their current group: none is terminated', async () => {
  const closing = new VerifyPool({ size: 2, maxInFlightPerWorker: 64 })
  const repo = new TestRepo('did:plc:ewvi7nxzyoun6zhxrhs64oiz', generateKeypair('k256'))
  const frame = messageFrame(
    await repo.commit([{ action: 'create', path: 'app.bsky.feed.post/3laaaaaaaaaaa' }]),
  )
  const task = {
    didKey: repo.keypair.didKey,
    previous: null,
    now: Date.now(),
    mode: 'strict',
  } as const
  const outcomes = Array.from({ length: 100 }, () =>
    closing.verify({ ...task, frame: Uint8Array.from(frame) }).then(
      (o) => (o.ok ? 'ok' : o.reason),
      (err: unknown) => (err instanceof VerifyWorkerError ? 'closed' : String(err)),
    ),
  )
  await new Promise((r) => setTimeout(r, 30))
  assert.deepEqual(await closing.close(), { ended: 2, terminated: 0 })
  const settled = await Promise.all(outcomes)
  assert.ok(
    settled.every((o) => o === 'ok' || o === 'closed'),
    settled.join(','),
  )
  assert.ok(settled.includes('closed'), 'tasks not done were failed')
  await assert.rejects(closing.verify({ ...task, frame }), VerifyWorkerError)
})

test('closing pools again and again while their workers verify never aborts the process', () => {
  // Terminating a worker inside the libsecp256k1 binding aborted the process within a few tens
  // of closes; a child process shows whether it survives.
  const child = spawnSync(
    process.execPath,
    [
      fileURLToPath(new URL('../../test/support/verify-pool-close-cycles.ts', import.meta.url)),
      '30',
    ],
    { encoding: 'utf8', timeout: 120_000 },
  )
  assert.equal(child.signal, null, `ended by ${child.signal}: ${child.stderr}`)
  assert.equal(child.status, 0, child.stderr)
  assert.match(child.stdout, /"terminated":0/)
  assert.match(child.stdout, /done/)
})

const crashingWorker = new URL('./testing/crashing-verify-worker.ts', import.meta.url)
const unstartableWorker = new URL('./testing/unstartable-verify-worker.ts', import.meta.url)

test('a worker that dies fails only its own tasks; its replacement takes the next ones', async () => {
  const errors: unknown[] = []
  const crashing = new VerifyPool({
    size: 1,
    workerUrl: crashingWorker,
    onWorkerError: (err) => errors.push(err),
  })
  try {
    const repo = new TestRepo('did:plc:ewvi7nxzyoun6zhxrhs64oiz', generateKeypair('k256'))
    const frame = messageFrame(
      await repo.commit([{ action: 'create', path: 'app.bsky.feed.post/3laaaaaaaaaaa' }]),
    )
    const task = (didKey: string): VerifyTask => ({
      frame: Uint8Array.from(frame),
      didKey,
      previous: null,
      now: Date.now(),
      mode: 'strict',
    })
    await assert.rejects(
      crashing.verify(task(CRASH_DID_KEY)),
      (err: unknown) => err instanceof VerifyWorkerError,
    )
    // Given while the replacement may still be pausing (the death came right after its start):
    // it waits, and is verified by the replacement.
    const after = await crashing.verify(task(repo.keypair.didKey))
    assert.equal(after.ok, true)
    assert.equal(crashing.stats.restarts, 1)
    assert.equal(errors.length, 1)
  } finally {
    await crashing.close()
  }
})

test('a worker that dies as it starts is retried after growing pauses; waiting tasks fail only on close', {
  timeout: 10_000,
}, async () => {
  const pauses: number[] = []
  const errors: unknown[] = []
  let third: () => void
  const thirdDeath = new Promise<void>((resolve) => {
    third = resolve
  })
  const broken = new VerifyPool({
    size: 1,
    workerUrl: unstartableWorker,
    onWorkerError: (err, restartInMs) => {
      errors.push(err)
      pauses.push(restartInMs)
      if (pauses.length === 3) third()
    },
  })
  const waiting = broken.verify({
    frame: new Uint8Array(8),
    didKey: 'did:key:z',
    previous: null,
    now: Date.now(),
    mode: 'strict',
  })
  let settled = false
  waiting.then(
    () => (settled = true),
    () => (settled = true),
  )
  await thirdDeath
  // Never up, so every death is a start-up failure: the pause doubles each time (with none, the
  // thread would be recreated at once, again and again).
  assert.deepEqual(pauses.slice(0, 3), [100, 200, 400])
  assert.match(String(errors[0]), /never starts/)
  assert.ok(broken.stats.restarts >= 3)
  assert.equal(settled, false, 'the task waits for a worker')
  assert.equal(broken.stats.queued, 1)
  assert.equal((await broken.close()).terminated, 0)
  await assert.rejects(waiting, (err: unknown) => err instanceof VerifyWorkerError)
})

test('a worker that has answered and is then killed by a task is replaced at once; one killed by its first task after a pause', {
  timeout: 10_000,
}, async () => {
  const pauses: number[] = []
  const crashing = new VerifyPool({
    size: 1,
    workerUrl: crashingWorker,
    onWorkerError: (_err, restartInMs) => pauses.push(restartInMs),
  })
  try {
    const task = (didKey: string): VerifyTask => ({
      frame: new Uint8Array(8),
      didKey,
      previous: null,
      now: Date.now(),
      mode: 'strict',
    })
    const crash = () =>
      assert.rejects(crashing.verify(task(CRASH_DID_KEY)), (e) => e instanceof VerifyWorkerError)
    await crash() // its first task: it never answered, so it was never up
    assert.deepEqual(pauses, [100])
    for (let i = 0; i < 3; i++) {
      // An answer (a drop: the frame is not one) shows the worker works; then a task kills it.
      const answered = await crashing.verify(task('did:key:z'))
      assert.equal(answered.ok, false)
      await crash()
    }
    assert.deepEqual(pauses, [100, 0, 0, 0])
  } finally {
    await crashing.close()
  }
})

/** Workers the pool has running (each answers its heap). */
const workersOf = (pool: VerifyPool) => pool.heapStatistics().then((h) => h.length)
/** The process's own threads: a worker set aside must end, not only be forgotten. */
const processThreads = () => readdirSync('/proc/self/task').length
/** Polls `done` every 10 ms for up to `ms` (the assertions after it say what was expected). */
async function until(done: () => boolean, ms: number): Promise<void> {
  for (const end = Date.now() + ms; !done() && Date.now() < end; ) {
    await new Promise((r) => setTimeout(r, 10))
  }
}

test('a pool with idleStopMs starts its worker at the first task and ends it once idle', async () => {
  const idle = new VerifyPool({ size: 1, idleStopMs: 100 })
  try {
    const task = await oneCommitTask()
    const before = processThreads()
    assert.equal(await workersOf(idle), 0, 'no thread before any task')
    assert.equal((await idle.verify(task())).ok, true)
    assert.equal(await workersOf(idle), 1, 'a thread once a task came')
    const busy = idle.busyMs()
    await new Promise((r) => setTimeout(r, 400))
    assert.equal(await workersOf(idle), 0, 'ended after the idle time')
    const after = processThreads()
    assert.ok(after <= before, `${after} threads, ${before} before the first task`)
    assert.equal(idle.readyWorkers, 0)
    const rested = idle.busyMs()
    assert.ok(rested >= busy, 'its busy time kept')
    // Tasks in a row keep it; the next task after a rest starts it again, and the new worker's
    // busy time adds to the old one's.
    assert.equal((await idle.verify(task())).ok, true)
    assert.equal((await idle.verify(task())).ok, true)
    assert.equal(await workersOf(idle), 1)
    assert.ok(idle.busyMs() > rested, `busy ${idle.busyMs()} ms after ${rested}`)
    assert.equal(idle.stats.restarts, 0, 'a rest is not a restart')
  } finally {
    const ended = await idle.close()
    assert.equal(ended.terminated, 0)
  }
})

// The relay's event pool where the main thread verifies while it carries the rate: two workers,
// none until the main thread hands events over, both ended together once it keeps them again.
// The idle time is long enough for a slow second start under a loaded test run.
test('an idle pool of two workers starts both at the first task and ends both', {
  timeout: 30_000,
}, async () => {
  const idle = new VerifyPool({ size: 2, idleStopMs: 4_000 })
  try {
    const task = await oneCommitTask()
    const before = processThreads()
    assert.equal(await workersOf(idle), 0, 'no thread before any task')
    assert.equal(idle.readyWorkers, 0)
    const outcomes = await Promise.all(Array.from({ length: 40 }, () => idle.verify(task())))
    assert.ok(outcomes.every((o) => o.ok))
    // Both were started by the first task (the first one up may have verified all 40 before the
    // other said it listens).
    await until(() => idle.readyWorkers === 2, 3_000)
    assert.equal(idle.readyWorkers, 2)
    assert.equal(await workersOf(idle), 2)
    await until(() => idle.readyWorkers === 0, 10_000)
    assert.equal(await workersOf(idle), 0, 'both ended after the idle time')
    await until(() => processThreads() <= before, 3_000)
    const after = processThreads()
    assert.ok(after <= before, `${after} threads, ${before} before the first task`)
    assert.equal((await idle.verify(task())).ok, true, 'started again by the next task')
    assert.equal(idle.stats.restarts, 0)
  } finally {
    const ended = await idle.close()
    assert.equal(ended.terminated, 0)
  }
})

test('an idle pool whose worker cannot be created keeps its task waiting, never set aside', {
  timeout: 10_000,
}, async () => {
  // `new Worker` throws at once for this URL: the first task's start fails before it is queued.
  const pauses: number[] = []
  const uncreatable = new VerifyPool({
    size: 1,
    idleStopMs: 20,
    workerUrl: new URL('http://127.0.0.1/verify-worker.js'),
    onWorkerError: (_err, restartInMs) => pauses.push(restartInMs),
  })
  const waiting = uncreatable.verify({
    frame: new Uint8Array(8),
    didKey: 'did:key:z',
    previous: null,
    now: Date.now(),
    mode: 'strict',
  })
  waiting.catch(() => {})
  // Past the first pauses (100, 200 ms) and many idle times: the pool still tries to create its
  // worker for the waiting task; set aside, it would have stopped trying.
  await new Promise((r) => setTimeout(r, 500))
  assert.ok(pauses.length >= 3, `${pauses.length} tries`)
  assert.equal(uncreatable.stats.queued, 1, 'the task still waits')
  await uncreatable.close()
  await assert.rejects(waiting, (err: unknown) => err instanceof VerifyWorkerError)
})
