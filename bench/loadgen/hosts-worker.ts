// The load generator's PDS hosts, in their own thread: one loopback PDS per workload host
// (subscribeRepos from a cursor, describeServer, getRepoStatus, and with `serveRepos` getRepo and
// listRepos as of the events sent so far (with `onlyShard`, the other shards' accounts too, at
// commits never sent): workload-repos.ts; bench/soak/pds.ts), and the
// sender that emits the cached events at the chosen rate. Each event's send time goes into
// shared memory (`sendTimes[i]`, ms on the process-wide monotonic clock) for the consumers'
// latency figures.
//
// Messages in: {start: {rate}} once the relay listens to every host; {stop}. Out: {hosts},
// {subscribed} when every host has a subscriber, {progress: sent} every second, {finished, ...}
// with what was sent inside the measured window and how far the sender ever fell behind.
import { parentPort, workerData } from 'node:worker_threads'
import { SoakPds } from '../soak/pds.ts'
import { nowMs } from './clock.ts'
import {
  KIND,
  plan,
  readRepos,
  readWorkload,
  type ShardSelection,
  shardEvents,
} from './workload.ts'
import { WorkloadRepos } from './workload-repos.ts'

export interface HostsTask {
  readonly dir: string
  /** Send only the first this many events of the cached workload. */
  readonly events: number
  /** Float64Array over it: the send time of event i (monotonic ms), 0 before it is sent. */
  readonly sendTimes: SharedArrayBuffer
  /** Float64Array of 2: the measured window's start and end (monotonic ms), set by the run. */
  readonly window: SharedArrayBuffer
  /** Serve getRepo from the workload's starting repos (repos.bin must exist). */
  readonly serveRepos: boolean
  /** Send only the events of the accounts the relay's `count` shards give to shard `index`. */
  readonly onlyShard?: ShardSelection | undefined
}

export type HostsIn = { readonly start: { readonly rate: number } } | { readonly stop: true }
export type HostsOut =
  | { readonly hosts: readonly string[] }
  | { readonly subscribed: true }
  | { readonly progress: number }
  | {
      /** Events sent in all, and the commits among them. */
      readonly finished: number
      readonly commitsSent: number
      /** Events and commits sent inside the measured window. */
      readonly sentInWindow: number
      readonly commitsInWindow: number
      /** The most events the sender was ever behind its schedule (a starved sender offers less). */
      readonly maxBehind: number
    }

const task = workerData as HostsTask
const port = parentPort!
const post = (m: HostsOut) => port.postMessage(m)

const w = await readWorkload(task.dir, task.events)
const sendTimes = new Float64Array(task.sendTimes)
const perHost = new Array<number>(w.manifest.params.hosts).fill(0)
for (let i = 0; i < w.frames.length; i++) perHost[w.hostOf[i]!]!++
const params = w.manifest.params
const repos = task.serveRepos
  ? new WorkloadRepos(await readRepos(task.dir, params.accounts), plan(params), w.frames)
  : null
const getRepo = repos ? (did: string) => repos.car(did, next) : undefined
// Which events go out: all, or those of one shard's accounts (by the relay's own hash), each
// with the seq its frame carries (host seqs then have gaps where another shard's events were).
const selection = task.onlyShard ? shardEvents(params, w.frames.length, task.onlyShard) : null
const hosts = await Promise.all(
  // Every frame is kept: the relay may reconnect with any cursor. A relay that stops reading
  // with 64 MiB queued is cut off and comes back with its cursor, as from a real PDS.
  perHost.map((n, h) =>
    SoakPds.start({
      keep: Math.max(1, n),
      maxBufferedBytes: 64 << 20,
      getRepo,
      listRepos: repos
        ? (cursor, limit) => repos.list(h, params.hosts, cursor, limit, next)
        : undefined,
    }),
  ),
)
post({ hosts: hosts.map((h) => h.hostname) })

const waitSubscribed = setInterval(() => {
  if (hosts.every((h) => h.subscriberCount > 0)) {
    clearInterval(waitSubscribed)
    post({ subscribed: true })
  }
}, 20)

const seqs = new Array<number>(hosts.length).fill(0)
/** Events sent, and the index of the next cached event to consider. */
let sent = 0
let next = 0
let stopped = false

async function send(rate: number): Promise<void> {
  const started = nowMs()
  const progress = setInterval(() => post({ progress: sent }), 1000)
  let maxBehind = 0
  while (!stopped && next < w.frames.length) {
    const due = Math.floor(((nowMs() - started) / 1000) * rate)
    maxBehind = Math.max(maxBehind, due - sent)
    while (sent < due && next < w.frames.length) {
      const i = next++
      if (selection && selection.kept[i] === 0) continue
      const h = w.hostOf[i]!
      sendTimes[i] = nowMs()
      hosts[h]!.emit(selection ? selection.seqs[i]! : ++seqs[h]!, w.frames[i]!)
      sent++
    }
    // A short sleep between bursts: at 8,000/s that is ~16 events per turn.
    await new Promise((r) => setTimeout(r, 2))
  }
  clearInterval(progress)
  post({ progress: sent })
  // The last event can go out just before the main thread closes the measured window; counting
  // then would see no window at all (every send outside it): wait until it is closed.
  const window = new Float64Array(task.window)
  while (!stopped && window[1] === 0) await new Promise((r) => setTimeout(r, 10))
  const [from = 0, to = 0] = window
  let sentInWindow = 0
  let commitsInWindow = 0
  let commitsSent = 0
  for (let i = 0; i < next; i++) {
    const at = sendTimes[i]!
    if (at === 0) continue // not sent (another shard's account)
    if (w.kinds[i] === KIND.commit) commitsSent++
    if (at < from || at >= to) continue
    sentInWindow++
    if (w.kinds[i] === KIND.commit) commitsInWindow++
  }
  post({ finished: sent, commitsSent, sentInWindow, commitsInWindow, maxBehind })
}

port.on('message', (m: HostsIn) => {
  if ('start' in m) void send(m.start.rate)
  else {
    stopped = true
    void Promise.all(hosts.map((h) => h.close())).then(() => process.exit(0))
  }
})
