import assert from 'node:assert/strict'
import { once } from 'node:events'
import { test } from 'node:test'
import { Worker } from 'node:worker_threads'
import { ThreadBusyTime } from './thread-busy.ts'

/** A thread that, for each message, keeps its loop busy for that many milliseconds. */
function spinner(): Worker {
  return new Worker(
    `const { parentPort } = require('node:worker_threads')
     parentPort.on('message', (ms) => {
       for (const until = performance.now() + ms; performance.now() < until; );
       parentPort.postMessage('done')
     })`,
    { eval: true },
  )
}

async function busyFor(worker: Worker, ms: number): Promise<void> {
  worker.postMessage(ms)
  await once(worker, 'message')
}

test('counts a thread busy time, and keeps a replaced thread in the total', async () => {
  const busy = new ThreadBusyTime()
  const first = spinner()
  await busyFor(first, 120)
  const one = busy.read(first)
  assert.ok(one >= 100 && one < 1_000, `first thread: ${one} ms`)

  busy.replaced(first)
  await first.terminate()
  // Gone and not yet replaced: the total stays (at least what was read, plus the thread's last
  // moments of work read at its replacement).
  const total = busy.read(null)
  assert.ok(total >= one && total < one + 100, `${total} after ${one}`)
  // The exited thread reads as zero now; the total does not go down with it.
  assert.equal(busy.read(first), total)

  const second = spinner()
  await busyFor(second, 60)
  const both = busy.read(second)
  assert.ok(both >= total + 50, `after the second thread: ${both} ms`)
  await second.terminate()
  assert.ok(busy.read(second) >= both, 'never decreases')
})

test('a thread that fails after idling does not count its idle time as busy', async () => {
  const busy = new ThreadBusyTime()
  const worker = new Worker(
    `const { parentPort } = require('node:worker_threads')
     parentPort.on('message', (m) => {
       if (m === 'fail') throw new Error('failed on purpose')
       for (const until = performance.now() + m; performance.now() < until; );
       parentPort.postMessage('done')
     })`,
    { eval: true },
  )
  await busyFor(worker, 20)
  const before = busy.read(worker)
  // Idle for 400 ms, then the thread fails: replaced as the pools do, in the 'error' handler,
  // before its exit is reported.
  await new Promise((resolve) => setTimeout(resolve, 400))
  const failed = once(worker, 'error')
  worker.postMessage('fail')
  await failed
  busy.replaced(worker)
  const total = busy.read(null)
  assert.ok(total >= before && total < before + 200, `${total} ms after ${before} ms`)
  await worker.terminate()
})
