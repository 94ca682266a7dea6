// The load generator's PDS hosts, in their own thread: one loopback PDS per workload host
// (subscribeRepos from a cursor, describeServer, getRepoStatus; bench/soak/pds.ts), and the
// sender that emits the cached events at the chosen rate. Each event's send time goes into
// shared memory (`sendTimes[i]`, ms on the process-wide monotonic clock) for the consumers'
// latency figures.
//
// Messages in: {start: {rate}} once the relay listens to every host; {stop}. Out: {hosts},
// {subscribed} when every host has a subscriber, {progress: sent} every second, {finished}.
import { parentPort, workerData } from 'node:worker_threads'
import { SoakPds } from '../soak/pds.ts'
import { readWorkload } from './workload.ts'

export interface HostsTask {
  readonly dir: string
  /** Send only the first this many events of the cached workload. */
  readonly events: number
  /** Float64Array over it: the send time of event i (monotonic ms), 0 before it is sent. */
  readonly sendTimes: SharedArrayBuffer
}

export type HostsIn = { readonly start: { readonly rate: number } } | { readonly stop: true }
export type HostsOut =
  | { readonly hosts: readonly string[] }
  | { readonly subscribed: true }
  | { readonly progress: number }
  | { readonly finished: number }

const task = workerData as HostsTask
const port = parentPort!
const post = (m: HostsOut) => port.postMessage(m)
const nowMs = () => Number(process.hrtime.bigint()) / 1e6

const w = await readWorkload(task.dir, task.events)
const sendTimes = new Float64Array(task.sendTimes)
const perHost = new Array<number>(w.manifest.params.hosts).fill(0)
for (let i = 0; i < w.frames.length; i++) perHost[w.hostOf[i]!]!++
const hosts = await Promise.all(
  // Every frame is kept: the relay may reconnect with any cursor. A relay that stops reading
  // with 64 MiB queued is cut off and comes back with its cursor, as from a real PDS.
  perHost.map((n) => SoakPds.start({ keep: Math.max(1, n), maxBufferedBytes: 64 << 20 })),
)
post({ hosts: hosts.map((h) => h.hostname) })

const waitSubscribed = setInterval(() => {
  if (hosts.every((h) => h.subscriberCount > 0)) {
    clearInterval(waitSubscribed)
    post({ subscribed: true })
  }
}, 20)

const seqs = new Array<number>(hosts.length).fill(0)
let sent = 0
let stopped = false

async function send(rate: number): Promise<void> {
  const started = nowMs()
  const progress = setInterval(() => post({ progress: sent }), 1000)
  while (!stopped && sent < w.frames.length) {
    const due = Math.min(w.frames.length, Math.floor(((nowMs() - started) / 1000) * rate))
    while (sent < due) {
      const h = w.hostOf[sent]!
      sendTimes[sent] = nowMs()
      hosts[h]!.emit(++seqs[h]!, w.frames[sent]!)
      sent++
    }
    // A short sleep between bursts: at 8,000/s that is ~16 events per turn.
    await new Promise((r) => setTimeout(r, 2))
  }
  clearInterval(progress)
  post({ progress: sent })
  post({ finished: sent })
}

port.on('message', (m: HostsIn) => {
  if ('start' in m) void send(m.start.rate)
  else {
    stopped = true
    void Promise.all(hosts.map((h) => h.close())).then(() => process.exit(0))
  }
})
