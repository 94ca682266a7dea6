// Worker-thread entry: runs each task of a batch the pool posts (an event: `runVerifyTask`; a
// whole repo: `runRepoVerifyTask`) with the best signature backend this thread can load, and
// posts the outcomes back in small groups (verify-messages.ts), with the output frame buffers
// transferred.
import { parentPort } from 'node:worker_threads'
import { verifySignature } from '../verify/crypto/signature.ts'
import { runRepoVerifyTask } from './repo-verify-task.ts'
import type { Reply, ReplyBatch, Request, RequestBatch } from './verify-messages.ts'
import { runVerifyTask } from './verify-task.ts'

const port = parentPort
if (!port) throw new Error('verify-worker.ts must run in a worker thread')

/**
 * Outcomes go back in groups of at most this many: a batch of 64 tasks runs in one turn of this
 * thread, and holding every outcome to its end would leave the main thread idle meanwhile
 * (and then the worker, waiting for the next tasks).
 */
const REPLY_GROUP = 8

let replies: Reply[] = []
let transfer: ArrayBuffer[] = []
let flush: NodeJS.Immediate | null = null

function reply(r: Reply, buffers: ArrayBuffer[] = []): void {
  replies.push(r)
  transfer.push(...buffers)
  if (replies.length >= REPLY_GROUP) post()
  else flush ??= setImmediate(post)
}

function post(): void {
  if (flush !== null) clearImmediate(flush)
  flush = null
  if (replies.length === 0) return
  const batch: ReplyBatch = { replies }
  const buffers = transfer
  replies = []
  transfer = []
  port!.postMessage(batch, buffers)
}

const fail = (id: number, err: unknown) =>
  reply({ id, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) })

function run(req: Request): void {
  if (req.kind === 'repo') {
    try {
      reply({ id: req.id, outcome: runRepoVerifyTask(req.task, verifySignature) })
    } catch (err) {
      fail(req.id, err)
    }
    return
  }
  runVerifyTask(req.task, verifySignature).then(
    (outcome) => {
      if (!outcome.ok) return reply({ id: req.id, outcome })
      // Copy into buffers of their own before transferring: encoders may hand out views into a
      // shared pool, and transferring that would detach its neighbours.
      const prefix = new Uint8Array(outcome.prefix)
      const suffix = new Uint8Array(outcome.suffix)
      reply({ id: req.id, outcome: { ...outcome, prefix, suffix } }, [prefix.buffer, suffix.buffer])
    },
    (err: unknown) => fail(req.id, err),
  )
}

port.on('message', (batch: RequestBatch) => {
  for (const req of batch.requests) run(req)
})
