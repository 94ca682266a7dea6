// Worker-thread entry of the archive's writer (writer-thread.ts): its own connection to the
// SQLite archive, on which it runs every write the main thread hands it: commits' changes
// (grouped per turn, sqlite-apply.ts), repo deletions, compaction's sweeps and the vacuum after
// them. SQLite's automatic checkpoints of the log run here too, on the connection that writes.
// It says `ready` once open, or `failed` and ends with exit code 1 when it cannot open (the
// main side starts another). Replies of one turn go back together. On 'close' it finishes what
// it was given, closes the connection and ends.
import { parentPort, workerData } from 'node:worker_threads'
import { ArchiveDatabase } from './archive-db.ts'
import { RepoStore } from './repo-store.ts'
import { toWriteFailure } from './write-failure.ts'
import type { FromWriter, ToWriter, WriteReply, WriteRequest } from './writer-messages.ts'

const port = parentPort
if (!port) throw new Error('writer-worker.ts must run in a worker thread')
const { path } = workerData as { path: string }

const post = (m: FromWriter) => port.postMessage(m)

let parts: { adb: ArchiveDatabase; store: RepoStore } | undefined
try {
  const adb = await ArchiveDatabase.openForWriter(path)
  parts = { adb, store: new RepoStore(adb) }
  post({ kind: 'ready' })
} catch (err) {
  post({ kind: 'failed', error: toWriteFailure('archive.open', err) })
  process.exit(1)
}

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
  const { adb, store } = parts!
  try {
    const value =
      req.op === 'apply'
        ? await store.apply(req.did, req.change, req.over, req.now)
        : req.op === 'delete'
          ? await store.delete(req.did)
          : req.op === 'deleteBlocks'
            ? await store.deleteBlocks(req.did, req.cids)
            : await adb.reclaim().then(() => undefined)
    reply({ id: req.id, ok: true, value })
  } catch (err) {
    reply({ id: req.id, ok: false, error: toWriteFailure(`repos.${req.op}`, err) })
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
    // The last replies go out before the connection closes and the thread ends.
    await new Promise<void>((r) => setImmediate(r))
    await parts?.adb.close()
    port.close()
  })()
})
