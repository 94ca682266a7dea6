// Worker-thread entry of the archive's writer (writer-thread.ts): its own connection to the
// SQLite archive, on which it runs every write the main thread hands it: commits' changes
// (grouped per turn, sqlite-apply.ts), repo deletions and compaction's sweeps. SQLite's
// automatic checkpoints of the log run here too, on the connection that writes. Replies of one
// turn go back together. On 'close' it finishes what it was given, closes the connection and
// says so.
import { parentPort, workerData } from 'node:worker_threads'
import { DatabaseError } from '../db/errors.ts'
import { ArchiveDatabase } from './archive-db.ts'
import { RepoStore } from './repo-store.ts'
import type {
  FromWriter,
  ToWriter,
  WriteFailure,
  WriteReply,
  WriteRequest,
} from './writer-messages.ts'

const port = parentPort
if (!port) throw new Error('writer-worker.ts must run in a worker thread')
const { path } = workerData as { path: string }

const post = (m: FromWriter) => port.postMessage(m)

function failure(operation: string, err: unknown): WriteFailure {
  if (err instanceof DatabaseError)
    return { operation: err.operation, reason: err.reason, message: err.message }
  return { operation, reason: 'query', message: err instanceof Error ? err.message : String(err) }
}

/** Why the archive could not be opened: every request is answered with it. */
let openFailure: WriteFailure | undefined
const opened = ArchiveDatabase.open({ kind: 'sqlite', path }).then(
  (adb) => ({ adb, store: new RepoStore(adb) }),
  (err: unknown) => {
    openFailure = failure('archive.open', err)
    post({ kind: 'failed', error: openFailure })
    return undefined
  },
)

let outbox: WriteReply[] = []
let flushing = false
const reply = (r: WriteReply) => {
  outbox.push(r)
  if (flushing) return
  flushing = true
  setImmediate(() => {
    flushing = false
    const replies = outbox
    outbox = []
    post({ kind: 'replies', replies })
  })
}

async function run(req: WriteRequest): Promise<void> {
  const parts = await opened
  if (!parts) return reply({ id: req.id, ok: false, error: openFailure! })
  const operation = req.op === 'apply' ? 'repos.apply' : `repos.${req.op}`
  try {
    const value =
      req.op === 'apply'
        ? await parts.store.apply(req.did, req.change, req.over, req.now)
        : req.op === 'delete'
          ? await parts.store.delete(req.did)
          : await parts.store.deleteBlocks(req.did, req.cids)
    reply({ id: req.id, ok: true, value })
  } catch (err) {
    reply({ id: req.id, ok: false, error: failure(operation, err) })
  }
}

const running = new Set<Promise<void>>()

port.on('message', (m: ToWriter) => {
  if (m.kind === 'requests') {
    for (const req of m.requests) {
      const p = run(req)
      running.add(p)
      void p.finally(() => running.delete(p))
    }
    return
  }
  void (async () => {
    while (running.size > 0) await Promise.allSettled([...running])
    await (await opened)?.adb.close()
    // The last replies go out before the goodbye.
    await new Promise<void>((r) => setImmediate(r))
    post({ kind: 'closed' })
    port.close()
  })()
})
