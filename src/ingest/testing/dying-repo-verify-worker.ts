// The real verify worker, which dies 300 ms into a batch holding a repo task for the DID
// DYING_REPO_DID (as a worker can, out of memory on a huge repo): what a worker's death means for
// the tasks queued behind it, tested for real. Everything else is the real worker.
import { parentPort } from 'node:worker_threads'
import type { ToWorker } from '../verify-messages.ts'
import { DYING_REPO_DID } from './dying-repo-signal.ts'

const sleeper = new Int32Array(new SharedArrayBuffer(4))

// Listening before the real worker loads, so the death comes before it sees the task.
parentPort?.on('message', (m: ToWorker) => {
  if (
    'requests' in m &&
    m.requests.some((r) => r.kind === 'repo' && r.task.did === DYING_REPO_DID)
  ) {
    Atomics.wait(sleeper, 0, 0, 300)
    throw new Error('the test killed this worker in the middle of a repo')
  }
})
await import('../verify-worker.ts')
