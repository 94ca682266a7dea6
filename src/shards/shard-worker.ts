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
// PostgreSQL: the shards share half the connections (each loads states and writes its
// checkpoints; the main thread keeps the other half for everything else).
const db = await openDatabase(
  database.kind === 'postgres'
    ? {
        ...database,
        maxConnections: Math.max(2, Math.floor(database.maxConnections / 2 / start.count)),
      }
    : database,
)
const shard = new AccountShard(start, db, (msg, transfer) => port.postMessage(msg, transfer))
port.on('message', (m: ToShard) => {
  if ('close' in m) {
    shard.close()
    // Ends once the connection is closed, or failed to close: nothing is left to write.
    void db
      .close()
      .catch(() => {})
      .finally(() => port.close())
    return
  }
  if ('call' in m) shard.call(m)
  else shard.receive(m)
})
port.postMessage({ ready: true } satisfies ShardReady)
