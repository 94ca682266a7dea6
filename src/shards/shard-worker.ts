// Worker-thread entry of an account shard (account-shard.ts): opens its own database
// connection (the main thread has run the migrations), in archival mode its own connection to
// the archive and its mirror of its accounts' repos, and, with tracing on, its own span
// exporter; says it is ready, and passes the main thread's batches and calls to the shard.
// With host threads, it also passes each host thread's events to the shard. Messages on two
// channels have no order between them, so where one side's messages must come first they are
// taken off their channel at once (`receiveMessageOnPort`): a call takes every event the host
// threads had posted before it (the main thread's rule: a call comes after the events handed in
// before it), and an event of a host whose view has not arrived takes the main thread's
// messages first (the main thread shares a host's view before its thread may dial it).
import { type MessagePort, parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads'
import { ArchiveDatabase } from '../archive/archive-db.ts'
import { Mirror } from '../archive/mirror.ts'
import { RepoStore } from '../archive/repo-store.ts'
import { openDatabase } from '../db/database.ts'
import { AccountShard, type ShardArchive } from './account-shard.ts'
import { sharedConfig } from './connection-shares.ts'
import { ShardArchiveWriter } from './shard-archive-writer.ts'
import type { HostEvents, ShardCall, ShardReady, ShardStart, ToShard } from './shard-messages.ts'

if (!parentPort) throw new Error('shard-worker.ts must run in a worker thread')
const port: MessagePort = parentPort
const start = workerData as ShardStart
// PostgreSQL: this shard's share of the connections.
const db = await openDatabase(sharedConfig(start.config.database, start.count, 'shard'))
// Archival mode: this shard's mirror of its accounts' repos. On SQLite its writes go to the main
// thread's writer thread (shard-archive-writer.ts); on PostgreSQL it writes with its share of
// the archive's connections.
let archive: ShardArchive | undefined
/** Where the archive pool's background errors go: the main thread's log, once the shard exists. */
let reportArchiveError: (err: Error) => void = () => {}
if (start.config.archive.enabled) {
  const config = start.config.archive.database
  const writer = config.kind === 'sqlite' ? new ShardArchiveWriter() : undefined
  const adb = await ArchiveDatabase.openForShard(
    sharedConfig(config, start.count, 'shard'),
    // A lost idle connection: the pool opens another for the next write.
    (err) => reportArchiveError(err),
    writer,
  )
  archive = { adb, mirror: new Mirror(new RepoStore(adb, Date.now)), ...(writer && { writer }) }
}
// Tracing: the shard exports its own spans (ingest's per event, identity resolutions) with an
// exporter of its own; its code is loaded only when tracing is on.
const tracing = start.config.tracing.enabled
  ? (await import('../observability/tracing.ts')).createTracing({
      ...start.config.tracing,
      version: start.config.version,
    })
  : undefined
const shard = new AccountShard(
  start,
  db,
  (msg, transfer) => port.postMessage(msg, transfer),
  tracing?.tracer,
  archive,
)
reportArchiveError = (err) => shard.warn(`archive database connection failed: ${err.message}`)
const hostPorts = start.hostPorts ?? []
/**
 * Calls in the order they came, each waiting until the host threads' events posted before it
 * are in; while `taking` a call runs no other message can overtake it or the batch in hand.
 */
const calls: ShardCall[] = []
let taking = false

function fromMain(m: ToShard): void {
  if ('call' in m) {
    calls.push(m)
    if (!taking) runCalls()
    return
  }
  handleMain(m)
}

/** Runs the waiting calls in order, each after every host thread's event posted before it. */
function runCalls(): void {
  taking = true
  try {
    for (let c = calls.shift(); c !== undefined; c = calls.shift()) {
      for (const p of hostPorts) {
        for (let r = receiveMessageOnPort(p); r !== undefined; r = receiveMessageOnPort(p)) {
          fromHosts(r.message as HostEvents)
        }
      }
      shard.call(c)
    }
  } finally {
    taking = false
  }
}

function fromHosts(m: HostEvents): void {
  if (!m.events.some((e) => !shard.knowsHost(e[0]))) {
    shard.receive(m)
    return
  }
  // A host this shard has no view of yet: the main thread sent it before the host could be
  // dialled, so it is on the main port. Calls taken meanwhile wait for this batch.
  const outer = taking
  taking = true
  try {
    for (let r = receiveMessageOnPort(port); r !== undefined; r = receiveMessageOnPort(port)) {
      fromMain(r.message as ToShard)
    }
  } finally {
    taking = outer
  }
  shard.receive(m)
  if (!outer && calls.length > 0) runCalls()
}

function handleMain(m: Exclude<ToShard, ShardCall>): void {
  if ('close' in m) {
    // Ends once the spans are sent and the connection is closed (or either failed), with the
    // last histogram totals sent and the channels to the other shards closed: nothing is left.
    void (tracing?.shutdown() ?? Promise.resolve())
      .catch(() => {})
      .then(() => db.close())
      .catch(() => {})
      .then(() => archive?.adb.close())
      .catch(() => {})
      .finally(() => {
        shard.close()
        for (const p of hostPorts) p.close()
        port.close()
      })
    return
  }
  shard.receive(m)
}

port.on('message', fromMain)
for (const p of hostPorts) p.on('message', fromHosts)
port.postMessage({ ready: true } satisfies ShardReady)
