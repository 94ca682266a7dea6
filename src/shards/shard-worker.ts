// Worker-thread entry of an account shard (account-shard.ts): opens its own database
// connection (the main thread has run the migrations), says it is ready, and passes the main
// thread's batches and calls to the shard.
import { parentPort, workerData } from 'node:worker_threads'
import { openDatabase } from '../db/database.ts'
import { AccountShard } from './account-shard.ts'
import type { ShardReady, ShardStart, ToShard } from './shard-messages.ts'

const port = parentPort
if (!port) throw new Error('shard-worker.ts must run in a worker thread')
const start = workerData as ShardStart
const { database } = start.config
// PostgreSQL: a share of the connections for each shard (it loads states and writes its
// checkpoints; the main thread keeps its own pool for everything else).
const db = await openDatabase(
  database.kind === 'postgres'
    ? {
        ...database,
        maxConnections: Math.max(2, Math.ceil(database.maxConnections / start.count)),
      }
    : database,
)
const shard = new AccountShard(start, db, (msg, transfer) => port.postMessage(msg, transfer))
port.on('message', (m: ToShard) => {
  if ('close' in m) {
    void db.close().then(() => port.close())
    return
  }
  if ('call' in m) shard.call(m)
  else shard.receive(m)
})
port.postMessage({ ready: true } satisfies ShardReady)
