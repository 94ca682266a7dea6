import assert from 'node:assert/strict'
import { once } from 'node:events'
import { test } from 'node:test'
import type { Worker } from 'node:worker_threads'
import { RestartPause } from './restart-pause.ts'
import { SupervisedWorker, type WorkerLife } from './supervised-worker.ts'

/** A thread whose code is `source` (plain JavaScript). */
const threadOf = (source: string) => new URL(`data:text/javascript,${encodeURIComponent(source)}`)

/** A thread that works `ms` (busy), says `said`, then runs `then`. */
const workingThread = (ms: number, said: string, then: string) =>
  threadOf(`
    const { parentPort } = await import('node:worker_threads')
    const end = Date.now() + ${ms}
    while (Date.now() < end) {}
    parentPort.postMessage('${said}')
    ${then}`)

/** Each callback as it happened, with a promise for the next of a kind. */
function recorder() {
  const seen: string[] = []
  const waiters: { kind: string; resolve: () => void }[] = []
  const note = (entry: string) => {
    seen.push(entry)
    for (const w of waiters.splice(0)) {
      if (entry.startsWith(w.kind)) w.resolve()
      else waiters.push(w)
    }
  }
  const life: WorkerLife<string> = {
    started: () => note('started'),
    message: (msg) => note(`message ${msg}`),
    lost: (cause, restartInMs, how) =>
      note(`lost ${how} ${restartInMs} ${cause instanceof Error ? cause.message : cause}`),
  }
  const next = (kind: string) =>
    new Promise<void>((resolve) => {
      waiters.push({ kind, resolve })
    })
  return { seen, life, next }
}

test('passes on the thread’s messages and counts its busy time', async (t) => {
  const r = recorder()
  const thread = new SupervisedWorker<string>({
    url: workingThread(30, 'hello', `parentPort.on('message', () => {})`),
    restart: new RestartPause(),
    life: r.life,
  })
  t.after(() => thread.close()?.terminate())
  assert.equal(thread.worker, null, 'nothing runs before start()')
  const said = r.next('message')
  thread.start()
  thread.start() // a second call starts nothing more
  await said
  assert.deepEqual(r.seen, ['started', 'message hello'])
  assert.ok(thread.busyMs() >= 20, `busy ${thread.busyMs()} ms`)
  assert.equal(thread.restarts, 0)
})

test('a thread that dies is forgotten, its busy time kept, and replaced after the pause', async (t) => {
  const r = recorder()
  const thread = new SupervisedWorker<string>({
    url: workingThread(20, 'working', 'setTimeout(() => process.exit(3), 5)'),
    restart: new RestartPause(),
    life: r.life,
  })
  t.after(() => thread.close()?.terminate())
  const lost = r.next('lost')
  thread.start()
  await lost
  assert.equal(thread.worker, null)
  assert.equal(thread.restarts, 1)
  const busyBefore = thread.busyMs()
  // It died within a second of starting, so the next one waits the first pause (100 ms).
  assert.deepEqual(r.seen, [
    'started',
    'message working',
    'lost died 100 thread exited with code 3',
  ])
  const restarted = r.next('message')
  await restarted
  assert.ok(thread.worker !== null, 'the replacement runs')
  assert.ok(thread.busyMs() >= busyBefore, 'the first thread’s busy time is still counted')
  assert.equal(r.seen.filter((e) => e === 'started').length, 2)
})

test('a thread that cannot be created is tried again later; close stops the tries', async () => {
  const r = recorder()
  const thread = new SupervisedWorker<string>({
    url: threadOf('0'),
    // A function cannot be copied to a thread: the constructor throws, as when no thread can be
    // made.
    workerOptions: { workerData: () => 0 },
    restart: new RestartPause(),
    life: r.life,
  })
  thread.start()
  assert.equal(thread.worker, null)
  assert.equal(thread.restarts, 1)
  assert.equal(thread.restarting, true)
  assert.match(r.seen[0] ?? '', /^lost not-created 100 /)
  const second = r.next('lost')
  await second
  assert.match(r.seen[1] ?? '', /^lost not-created 200 /, 'the pause doubles')
  assert.equal(thread.close(), null)
  await new Promise((resolve) => setTimeout(resolve, 450))
  assert.equal(r.seen.length, 2, 'no try after close')
})

test('after close the thread’s last messages are passed on, and its end is not replaced', async () => {
  const r = recorder()
  const thread = new SupervisedWorker<string>({
    url: threadOf(`
      const { parentPort } = await import('node:worker_threads')
      parentPort.postMessage('up')
      parentPort.on('message', () => { parentPort.postMessage('last'); setTimeout(() => process.exit(1), 20) })`),
    restart: new RestartPause(),
    life: r.life,
  })
  const up = r.next('message')
  thread.start()
  await up
  const worker = thread.close() as Worker
  assert.ok(worker !== null, 'close answers the running thread')
  worker.postMessage('go')
  await once(worker, 'exit')
  assert.deepEqual(r.seen, ['started', 'message up', 'message last'])
  assert.equal(thread.restarts, 0)
  assert.equal(thread.restarting, false)
})
