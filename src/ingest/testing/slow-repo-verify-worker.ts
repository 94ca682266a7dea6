// The real verify worker, made slow at whole repos: given a batch with a repo task, it first
// holds its thread for REPO_HOLD_MS, as a big repo would. Used to test that events are placed
// around a worker busy with a repo; everything else is the real worker.
import { parentPort } from 'node:worker_threads'
import type { ToWorker } from '../verify-messages.ts'

const REPO_HOLD_MS = 1500
const sleeper = new Int32Array(new SharedArrayBuffer(4))

// Listening before the real worker loads, so the hold comes before it sees the batch.
parentPort?.on('message', (m: ToWorker) => {
  if ('requests' in m && m.requests.some((r) => r.kind === 'repo')) {
    Atomics.wait(sleeper, 0, 0, REPO_HOLD_MS)
  }
})
await import('../verify-worker.ts')
