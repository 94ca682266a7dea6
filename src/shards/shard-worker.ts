// Worker-thread entry of an account shard (account-shard.ts): opens its own database
// connection, says it is ready, and passes the main thread's batches to the shard.
import { parentPort, workerData } from 'node:worker_threads'
import { openDatabase } from '../db/database.ts'
import { AccountShard } from './account-shard.ts'
import type { ShardStart, ShardOps, ShardReady, ToShard } from './shard-messages.ts'

const port = parentPort
if (!port) throw new Error('shard-worker.ts must run in a worker thread')
const start = workerData as ShardStart
const db = await openDatabase(start.config.database)
const shard = new AccountShard(start, db, (ops, transfer) =>
  port.postMessage({ ops } satisfies ShardOps, transfer),
)
port.on('message', (m: ToShard) => {
  if ('close' in m) {
    void db.close().then(() => port.close())
    return
  }
  shard.receive(m)
})
port.postMessage({ ready: true } satisfies ShardReady)
