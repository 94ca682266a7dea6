// Worker-thread entry of an account shard (account-shard.ts): opens its own database
// connection (the main thread has run the migrations), in archival mode its own connection to
// the archive and its mirror of its accounts' repos, and, with tracing on, its own span
// exporter; says it is ready, and passes the main thread's batches and calls to the shard.
// With host threads, it also passes each host thread's events to the shard, in the order
// shard-inbox.ts keeps between the two kinds of channel.
import { type MessagePort, parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads'
import { ArchiveDatabase } from '../archive/archive-db.ts'
import { Mirror } from '../archive/mirror.ts'
import { RepoStore } from '../archive/repo-store.ts'
import { openDatabase } from '../db/database.ts'
import { AccountShard, type ShardArchive } from './account-shard.ts'
import { sharedConfig } from './connection-shares.ts'
import { ShardArchiveWriter } from './shard-archive-writer.ts'
import { ShardInbox } from './shard-inbox.ts'
import type { HostEvents, ShardReady, ShardStart, ToShard } from './shard-messages.ts'

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
const inbox = new ShardInbox({
  main: { take: () => receiveMessageOnPort(port)?.message as ToShard | undefined },
  hosts: hostPorts.map((p) => ({
    take: () => receiveMessageOnPort(p)?.message as HostEvents | undefined,
  })),
  knowsHost: (hostId) => shard.knowsHost(hostId),
  receive: (batch) => shard.receive(batch),
  call: (c) => shard.call(c),
  // Ends once the spans are sent and the connection is closed (or either failed), with the
  // last histogram totals sent and the channels to the other shards closed: nothing is left.
  close: () =>
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
      }),
})

port.on('message', (m: ToShard) => inbox.fromMain(m))
for (const p of hostPorts) p.on('message', (m: HostEvents) => inbox.fromHosts(m))
port.postMessage({ ready: true } satisfies ShardReady)
