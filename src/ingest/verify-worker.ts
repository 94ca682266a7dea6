// Worker-thread entry: runs the tasks the pool posts (an event: `runVerifyTask`; a whole repo:
// `runRepoVerifyTask`) with the best signature backend this thread can load, and posts the
// outcomes back in groups (verify-messages.ts), output frame buffers transferred.
import { parentPort } from 'node:worker_threads'
import { verifySignature } from '../verify/crypto/signature.ts'
import { runRepoVerifyTask } from './repo-verify-task.ts'
import {
  failedReply,
  packReply,
  postableReply,
  type Reply,
  type ReplyBatch,
  type Request,
  type ToWorker,
  type WorkerReady,
} from './verify-messages.ts'
import { runVerifyTask } from './verify-task.ts'

const port = parentPort
if (!port) throw new Error('verify-worker.ts must run in a worker thread')

/**
 * Tasks per reply group. Verification runs synchronously, so a batch of 64 tasks would otherwise
 * be answered only once all 64 were done, leaving the main thread idle meanwhile (and then this
 * worker, waiting for the next tasks): each group's outcomes are posted as soon as it is done.
 */
const REPLY_GROUP = 8

/** Tasks posted and not yet run: at most the pool's in-flight limit per worker (64). */
const queue: Request[] = []
let running = false

let closing = false

port.on('message', (m: ToWorker) => {
  if ('close' in m) {
    closing = true
    queue.length = 0
    if (!running) port.close()
    return
  }
  queue.push(...m.requests)
  if (!running) void runQueue()
})
port.postMessage({ ready: true } satisfies WorkerReady)

async function runQueue(): Promise<void> {
  running = true
  try {
    while (queue.length > 0) {
      const done = await Promise.all(queue.splice(0, REPLY_GROUP).map(run))
      post(done)
    }
  } finally {
    running = false
    // Asked to end while a group ran: the thread ends once nothing is left on its port.
    if (closing) port!.close()
  }
}

interface Done {
  readonly reply: Reply
  readonly transfer: readonly ArrayBuffer[]
}

function post(done: readonly Done[]): void {
  const batch: ReplyBatch = { replies: done.map((d) => packReply(d.reply)) }
  try {
    port!.postMessage(
      batch,
      done.flatMap((d) => d.transfer),
    )
  } catch (err) {
    // Nothing here should make an outcome uncloneable; if it ever does, its tasks fail (and are
    // retried once by the caller) rather than waiting for ever.
    port!.postMessage({
      replies: done.map((d) => failedReply(d.reply.id, err)),
    } satisfies ReplyBatch)
  }
}

async function run(req: Request): Promise<Done> {
  try {
    if (req.kind === 'repo') {
      return {
        reply: { id: req.id, outcome: runRepoVerifyTask(req.task, verifySignature) },
        transfer: [],
      }
    }
    return postableReply(req.id, await runVerifyTask(req.task, verifySignature))
  } catch (err) {
    return { reply: failedReply(req.id, err), transfer: [] }
  }
}
