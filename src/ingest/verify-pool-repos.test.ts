// The verify pool's placement of whole repos (a resync's or repair's import) beside events, with
// real workers whose repo tasks hold their thread for 1.5 s (testing/slow-repo-verify-worker.ts).
// Checked by order: with two workers, every event given after a repo is answered before that
// repo, because no event waits behind it (the events take milliseconds against the hold); two
// repos share one worker and leave the other to events; with one worker, repos and events share
// it and all are answered (nothing starves). And when the worker holding a repo dies, the repo
// queued behind it goes at once to the one worker left, not to the dead one's replacement.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { generateKeypair } from '../../test/support/keypair.ts'
import { messageFrame, TestRepo } from '../../test/support/test-repo.ts'
import type { RepoVerifyTask } from './repo-verify-task.ts'
import { DYING_REPO_DID } from './testing/dying-repo-signal.ts'
import { VerifyPool, VerifyWorkerError } from './verify-pool.ts'
import type { VerifyTask } from './verify-task.ts'

const slowRepos = new URL('./testing/slow-repo-verify-worker.ts', import.meta.url)
const dyingRepos = new URL('./testing/dying-repo-verify-worker.ts', import.meta.url)
const DID = 'did:plc:ewvi7nxzyoun6zhxrhs64oiz'

async function fixtures(): Promise<{ event: () => VerifyTask; repo: () => RepoVerifyTask }> {
  const repo = new TestRepo(DID, generateKeypair('k256'))
  const frame = messageFrame(
    await repo.commit([{ action: 'create', path: 'app.bsky.feed.post/3laaaaaaaaaaa' }]),
  )
  const car = await repo.exportCar()
  const didKey = repo.keypair.didKey
  return {
    event: () => ({
      frame: Uint8Array.from(frame),
      didKey,
      previous: null,
      now: Date.now(),
      mode: 'strict',
    }),
    repo: () => ({ did: DID, car: Uint8Array.from(car), didKey, now: Date.now() }),
  }
}

/** `answer`, noting `name` in `order` when it comes: the order answers arrive in is the check. */
function noted<T>(order: string[], name: string, answer: Promise<T>): Promise<T> {
  return answer.then((o) => {
    order.push(name)
    return o
  })
}

async function startedPool(
  size: number,
  workerUrl = slowRepos,
  maxInFlightPerWorker = 4,
): Promise<VerifyPool> {
  const pool = new VerifyPool({ size, maxInFlightPerWorker, workerUrl })
  while (pool.readyWorkers < size) await new Promise((r) => setTimeout(r, 10))
  return pool
}

test('with two workers, events given after a whole repo go around the worker holding it', async () => {
  const f = await fixtures()
  await using pool = await startedPool(2)
  const order: string[] = []
  const repo = noted(order, 'repo', pool.verifyRepo(f.repo()))
  // More events than the free worker's in-flight limit: the rest wait for it, not the other.
  const events = Array.from({ length: 12 }, () => noted(order, 'event', pool.verify(f.event())))
  const [repoOutcome, ...eventOutcomes] = await Promise.all([repo, ...events])
  assert.equal(repoOutcome.ok, true)
  assert.ok(eventOutcomes.every((o) => o.ok))
  assert.deepEqual(order, [...Array(12).fill('event'), 'repo'])
  assert.deepEqual(pool.stats, { inFlight: 0, queued: 0, restarts: 0 })
})

// A pool whose workers start at the first task (the relay's, beside --verify-on-main): whichever
// is up first takes the repo, and the events wait for the other to start rather than go behind it.
test('with two workers started by a repo, the events wait for the second, not behind the repo', async () => {
  const f = await fixtures()
  await using pool = new VerifyPool({
    size: 2,
    maxInFlightPerWorker: 4,
    workerUrl: slowRepos,
    idleStopMs: 60_000,
  })
  assert.equal(pool.readyWorkers, 0)
  const order: string[] = []
  const repo = noted(order, 'repo', pool.verifyRepo(f.repo()))
  const events = Array.from({ length: 12 }, () => noted(order, 'event', pool.verify(f.event())))
  const outcomes = await Promise.all([repo, ...events])
  assert.ok(outcomes.every((o) => o.ok))
  assert.deepEqual(order, [...Array(12).fill('event'), 'repo'])
})

test('with two workers, two repos at once share one worker and the other keeps to events', async () => {
  const f = await fixtures()
  await using pool = await startedPool(2)
  const order: string[] = []
  const repos = [f.repo(), f.repo()].map((t) => noted(order, 'repo', pool.verifyRepo(t)))
  const events = Array.from({ length: 8 }, () => noted(order, 'event', pool.verify(f.event())))
  const outcomes = await Promise.all([...repos, ...events])
  assert.ok(outcomes.every((o) => o.ok))
  assert.deepEqual(order, [...Array(8).fill('event'), 'repo', 'repo'])
})

test('with one worker, repos and events share it and every one is answered', async () => {
  const f = await fixtures()
  await using pool = await startedPool(1)
  const outcomes = await Promise.all([
    pool.verifyRepo(f.repo()),
    ...Array.from({ length: 6 }, () => pool.verify(f.event())),
    pool.verifyRepo(f.repo()),
  ])
  assert.ok(outcomes.every((o) => o.ok))
  assert.deepEqual(pool.stats, { inFlight: 0, queued: 0, restarts: 0 })
})

test('a repo queued behind a worker that dies goes to the worker left, not to its replacement', async () => {
  const f = await fixtures()
  // One task per worker: the second repo cannot join the first, and the other worker is kept
  // free of repos for events, so it waits in the queue.
  await using pool = await startedPool(2, dyingRepos, 1)
  const dying = pool.verifyRepo({ ...f.repo(), did: DYING_REPO_DID })
  const queued = pool.verifyRepo(f.repo()).then((o) => ({ o, ready: pool.readyWorkers }))
  assert.equal(pool.stats.queued, 1)
  await assert.rejects(dying, (err: unknown) => err instanceof VerifyWorkerError)
  // Answered by the worker left while the dead one's replacement was still starting.
  const { o, ready } = await queued
  assert.equal(o.ok, true)
  assert.equal(ready, 1)
})
