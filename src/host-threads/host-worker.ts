// Worker-thread entry of a host thread (thread-hosts.ts): dials with the same address guard the
// main thread would (hosts/address.ts), takes the main thread's messages and each shard's
// settlements, and reports the hosts' books every `booksEveryMs`.
import { parentPort, workerData } from 'node:worker_threads'
import { upstreamLookup } from '../hosts/address.ts'
import type { HostSettled } from '../shards/shard-messages.ts'
import { LocalSockets } from '../upstream/socket-opener.ts'
import type { HostThreadReport, HostThreadStart, ToHostThread } from './host-thread-messages.ts'
import { ThreadHosts } from './thread-hosts.ts'

if (parentPort === null) throw new Error('host-worker.ts runs as a worker thread')
const port = parentPort
const start = workerData as HostThreadStart
const hosts = new ThreadHosts(
  start,
  new LocalSockets(upstreamLookup(start.allowInsecure)),
  (report: HostThreadReport) => port.postMessage(report),
)
port.on('message', (m: ToHostThread) => hosts.handle(m))
for (const shard of start.shardPorts) {
  shard.on('message', (m: HostSettled) => hosts.settled(m.settled))
}
setInterval(() => hosts.reportBooks(), start.booksEveryMs)
