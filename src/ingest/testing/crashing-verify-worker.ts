// The real verify worker, which also dies (an uncaught error) when given a task for the did:key
// CRASH_DID_KEY: what a worker's death does to the pool, tested for real. Deliberately not here:
// anything else the worker does (verify-worker.ts).
import { parentPort } from 'node:worker_threads'
import type { ToWorker } from '../verify-messages.ts'
import { CRASH_DID_KEY } from './crash-signal.ts'

// Listening before the real worker loads, so the crash comes before it sees the task.
parentPort?.on('message', (m: ToWorker) => {
  const crash = (r: { kind: string; task: { didKey?: string } }): boolean =>
    r.kind === 'event' && r.task.didKey === CRASH_DID_KEY
  if ('requests' in m && m.requests.some(crash)) throw new Error('the test crashed this worker')
})
await import('../verify-worker.ts')
