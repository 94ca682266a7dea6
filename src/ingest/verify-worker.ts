// Worker-thread entry: runs `runVerifyTask` for each task the pool posts, with the best signature
// backend this thread can load, and posts the outcome back (output frame buffers transferred).
import { parentPort } from 'node:worker_threads'
import { verifySignature } from '../verify/crypto/signature.ts'
import { runVerifyTask, type VerifyTask } from './verify-task.ts'

interface Request {
  readonly id: number
  readonly task: VerifyTask
}

const port = parentPort
if (!port) throw new Error('verify-worker.ts must run in a worker thread')

port.on('message', (req: Request) => {
  runVerifyTask(req.task, verifySignature).then(
    (outcome) => {
      if (!outcome.ok) return port.postMessage({ id: req.id, outcome })
      // Copy into buffers of their own before transferring: encoders may hand out views into a
      // shared pool, and transferring that would detach its neighbours.
      const prefix = new Uint8Array(outcome.prefix)
      const suffix = new Uint8Array(outcome.suffix)
      port.postMessage({ id: req.id, outcome: { ...outcome, prefix, suffix } }, [
        prefix.buffer,
        suffix.buffer,
      ])
    },
    (err: unknown) =>
      port.postMessage({
        id: req.id,
        error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
      }),
  )
})
