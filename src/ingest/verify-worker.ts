// Worker-thread entry: runs the tasks the pool posts (an event: `runVerifyTask`; a whole repo:
// `runRepoVerifyTask`) with the best signature backend this thread can load, and posts the
// outcomes back in groups (verify-messages.ts), each group's output frames in one transferred buffer.
import { parentPort } from 'node:worker_threads'
import { verifySignature } from '../verify/crypto/signature.ts'
import { runRepoVerifyTask } from './repo-verify-task.ts'
import {
  failedReply,
  postableReplies,
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

function post(done: readonly Reply[]): void {
  try {
    const { replies, transfer } = postableReplies(done)
    port!.postMessage({ replies } satisfies ReplyBatch, transfer)
  } catch (err) {
    // Nothing here should make an outcome uncloneable; if it ever does, its tasks fail (and are
    // retried once by the caller) rather than waiting for ever.
    port!.postMessage({
      replies: done.map((r) => failedReply(r.id, err)),
    } satisfies ReplyBatch)
  }
}

async function run(req: Request): Promise<Reply> {
  try {
    if (req.kind === 'repo') {
      return { id: req.id, outcome: runRepoVerifyTask(req.task, verifySignature) }
    }
    return { id: req.id, outcome: await runVerifyTask(req.task, verifySignature) }
  } catch (err) {
    return failedReply(req.id, err)
  }
}
