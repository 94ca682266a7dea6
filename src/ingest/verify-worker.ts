// Worker-thread entry: runs each task the pool posts (an event: `runVerifyTask`; a whole repo:
// `runRepoVerifyTask`) with the best signature backend this thread can load, and posts the
// outcome back (output frame buffers transferred).
import { parentPort } from 'node:worker_threads'
import { verifySignature } from '../verify/crypto/signature.ts'
import { type RepoVerifyTask, runRepoVerifyTask } from './repo-verify-task.ts'
import { runVerifyTask, type VerifyTask } from './verify-task.ts'

type Request =
  | { readonly id: number; readonly kind: 'event'; readonly task: VerifyTask }
  | { readonly id: number; readonly kind: 'repo'; readonly task: RepoVerifyTask }

const port = parentPort
if (!port) throw new Error('verify-worker.ts must run in a worker thread')

const fail = (id: number, err: unknown) =>
  port.postMessage({
    id,
    error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
  })

port.on('message', (req: Request) => {
  if (req.kind === 'repo') {
    try {
      port.postMessage({ id: req.id, outcome: runRepoVerifyTask(req.task, verifySignature) })
    } catch (err) {
      fail(req.id, err)
    }
    return
  }
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
    (err: unknown) => fail(req.id, err),
  )
})
