// One load-generator run: the cached workload (workload.ts), its PDS hosts and sender
// (hosts-worker.ts), a mock PLC directory naming each account's host and key, the relay (ours
// as a child process, or any relay already running that speaks the protocol), the consumers
// (consumers-worker.ts), then warm-up, the measured window and a drain. Returns one result
// object; the CLI prints it as one JSON line.
import { mkdtemp, rm } from 'node:fs/promises'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import { startMockPlc } from '../../src/identity/testing/mock-plc.ts'
import { testDidDocument } from '../../test/support/did-doc.ts'
import { ADMIN_KEY } from '../../test/support/relay-harness.ts'
import { freePort, type RelayProcess, startRelayProcess } from '../../test/support/relay-process.ts'
import { byLabel, type Scrape, scrape, value } from '../soak/sample.ts'
import type { ConsumerReport, ConsumersOut, ConsumersTask } from './consumers-worker.ts'
import type { HostsIn, HostsOut, HostsTask } from './hosts-worker.ts'
import { coresBetween, cpuSnapshot, memory, round } from './proc.ts'
import { ensureWorkload, type WorkloadParams } from './workload.ts'

export interface LoadgenOptions {
  readonly rate: number
  readonly seconds: number
  readonly warmupSeconds: number
  readonly hosts: number
  readonly accounts: number
  readonly records: number
  readonly consumers: number
  readonly seed: number
  readonly cacheDir: string
  /** Our relay as a child process (flags, env, Node flags), or an external one. */
  readonly relay:
    | {
        readonly kind: 'local'
        readonly flags: readonly string[]
        readonly env: Readonly<Record<string, string>>
        readonly nodeFlags: readonly string[]
      }
    | {
        readonly kind: 'external'
        readonly url: string
        readonly pid: number | undefined
        readonly adminPassword: string | undefined
        readonly plcPort: number | undefined
      }
  /** Longest wait after the last send for consumers to receive everything. */
  readonly drainSeconds: number
  readonly log: (line: string) => void
}

const nowMs = () => Number(process.hrtime.bigint()) / 1e6
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

export async function runLoadgen(opts: LoadgenOptions): Promise<Record<string, unknown>> {
  const { log } = opts
  const events = Math.ceil(opts.rate * (opts.warmupSeconds + opts.seconds))
  const params: WorkloadParams = {
    hosts: opts.hosts,
    accounts: opts.accounts,
    events,
    seed: opts.seed,
    records: opts.records,
  }
  const { dir, manifest } = await ensureWorkload(opts.cacheDir, params, log)
  const sendTimes = new SharedArrayBuffer(8 * events)
  const window = new SharedArrayBuffer(16)
  const windowTimes = new Float64Array(window)

  const hostsWorker = new Worker(new URL('./hosts-worker.ts', import.meta.url), {
    workerData: { dir, events, sendTimes } satisfies HostsTask,
  })
  const hostMessages: HostsOut[] = []
  let wake: (() => void) | null = null
  hostsWorker.on('message', (m: HostsOut) => {
    hostMessages.push(m)
    wake?.()
  })
  hostsWorker.on('error', (err) => log(`hosts worker failed: ${err}`))
  const nextHostMessage = async <K extends string>(
    key: K,
  ): Promise<Extract<HostsOut, Record<K, unknown>>> => {
    for (;;) {
      const i = hostMessages.findIndex((m) => key in m)
      if (i >= 0) return hostMessages.splice(i, 1)[0] as Extract<HostsOut, Record<K, unknown>>
      await new Promise<void>((r) => {
        wake = r
      })
    }
  }
  const { hosts } = await nextHostMessage('hosts')

  const plcPort = opts.relay.kind === 'external' ? opts.relay.plcPort : undefined
  const plc = await startMockPlc({}, plcPort)
  for (const a of manifest.accounts) {
    plc.setDocument(
      a.did,
      testDidDocument(a.did, `http://${hosts[a.host]}`, {
        handle: `${a.did.slice(8)}.loadgen.test`,
        publicKeyMultibase: a.publicKeyMultibase,
      }),
    )
  }

  let relayDir: string | null = null
  let relayProcess: RelayProcess | null = null
  let relayUrl: string
  let pid: number | undefined
  let metricsUrl: string | undefined
  let adminKey: string | undefined
  if (opts.relay.kind === 'local') {
    relayDir = await mkdtemp(join(tmpdir(), 'relay-loadgen-'))
    const metricsPort = await freePort()
    relayProcess = await startRelayProcess(
      relayDir,
      plc.url,
      [
        '--metrics-listen',
        `127.0.0.1:${metricsPort}`,
        // A large account limit also lifts the hosts' event rate limits, which scale with it.
        '--default-account-limit',
        '100000000',
        '--verify-workers',
        String(Math.max(1, cpus().length - 1)),
        ...opts.relay.flags,
      ],
      { env: opts.relay.env, nodeFlags: opts.relay.nodeFlags },
    )
    relayUrl = relayProcess.url
    pid = relayProcess.pid
    metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`
    adminKey = ADMIN_KEY
  } else {
    relayUrl = opts.relay.url.replace(/\/$/, '')
    pid = opts.relay.pid
    adminKey = opts.relay.adminPassword
  }
  log(`relay at ${relayUrl}${pid ? ` (pid ${pid})` : ''}; PLC at ${plc.url}; ${hosts.length} hosts`)

  const cleanup = async () => {
    hostsWorker.postMessage({ stop: true } satisfies HostsIn)
    await sleep(100)
    await hostsWorker.terminate()
    if (relayProcess) {
      relayProcess.child.kill('SIGTERM')
      await relayProcess.exited
    }
    await plc.close()
    if (relayDir) await rm(relayDir, { recursive: true, force: true })
  }

  try {
    for (const hostname of hosts) await addHost(relayUrl, hostname, adminKey)
    await nextHostMessage('subscribed')
    const wsUrl = `${relayUrl.replace(/^http/, 'ws')}/xrpc/com.atproto.sync.subscribeRepos`
    const consumersWorker = new Worker(new URL('./consumers-worker.ts', import.meta.url), {
      workerData: {
        url: wsUrl,
        consumers: opts.consumers,
        baseMicros: manifest.baseMicros,
        events,
        sendTimes,
        window,
      } satisfies ConsumersTask,
    })
    const consumerMessages: ConsumersOut[] = []
    let consumerWake: (() => void) | null = null
    consumersWorker.on('message', (m: ConsumersOut) => {
      consumerMessages.push(m)
      consumerWake?.()
    })
    const nextConsumerMessage = async (): Promise<ConsumersOut> => {
      while (consumerMessages.length === 0) {
        await new Promise<void>((r) => {
          consumerWake = r
        })
      }
      return consumerMessages.shift()!
    }
    await nextConsumerMessage()
    const report = async () => {
      consumersWorker.postMessage('report')
      const m = await nextConsumerMessage()
      if (!('report' in m)) throw new Error('consumers: unexpected message')
      return m
    }

    log(
      `sending ${events} events at ${opts.rate}/s: ${opts.warmupSeconds} s warm-up, ${opts.seconds} s measured`,
    )
    const before = metricsUrl ? await scrape(metricsUrl) : null
    hostsWorker.postMessage({ start: { rate: opts.rate } } satisfies HostsIn)
    const startMs = nowMs()
    await sleep(opts.warmupSeconds * 1000)
    windowTimes[0] = nowMs()
    const cpuFrom = pid ? await cpuSnapshot(pid) : null
    const ownCpuFrom = process.cpuUsage()
    let peakRss = 0
    const sampler = setInterval(() => {
      if (pid)
        void memory(pid).then(
          (m) => (peakRss = Math.max(peakRss, m.rss)),
          () => {},
        )
    }, 250)
    await sleep(Math.max(0, startMs + (opts.warmupSeconds + opts.seconds) * 1000 - nowMs()))
    windowTimes[1] = nowMs()
    const cpuTo = pid ? await cpuSnapshot(pid) : null
    const ownCpu = process.cpuUsage(ownCpuFrom)
    const windowS = (windowTimes[1] - windowTimes[0]!) / 1000
    const { finished } = await nextHostMessage('finished')
    // Drain: until every consumer has as many frames as the slowest has stopped changing.
    let last = -1
    const drainUntil = nowMs() + opts.drainSeconds * 1000
    let r = await report()
    while (nowMs() < drainUntil) {
      const least = Math.min(...r.report.map((c) => c.received))
      if (least === last) break
      last = least
      await sleep(2000)
      r = await report()
    }
    clearInterval(sampler)
    const mem = pid ? await memory(pid).catch(() => null) : null
    const after = metricsUrl ? await scrape(metricsUrl) : null
    await consumersWorker.terminate()
    return result({
      opts,
      manifest,
      events: finished,
      windowS,
      reports: r.report,
      latencies: r.latencies,
      cores: pid && cpuFrom && cpuTo ? coresBetween(pid, cpuFrom, cpuTo) : null,
      loadgenCores: round((ownCpu.user + ownCpu.system) / 1e6 / windowS, 3),
      peakRss,
      hwm: mem?.hwm ?? 0,
      before,
      after,
    })
  } finally {
    await cleanup()
  }
}

async function addHost(relayUrl: string, hostname: string, adminKey: string | undefined) {
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${adminKey}` }
  if (adminKey === undefined) {
    const res = await fetch(`${relayUrl}/xrpc/com.atproto.sync.requestCrawl`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ hostname }),
    })
    if (!res.ok) throw new Error(`requestCrawl ${hostname}: ${res.status} ${await res.text()}`)
    return
  }
  const res = await fetch(`${relayUrl}/admin/pds/requestCrawl`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ hostname }),
  })
  if (!res.ok) throw new Error(`admin requestCrawl ${hostname}: ${res.status} ${await res.text()}`)
  const limits = await fetch(`${relayUrl}/admin/pds/changeLimits`, {
    method: 'POST',
    headers,
    body: JSON.stringify({
      host: hostname,
      per_second: 100_000,
      per_hour: 1_000_000_000,
      per_day: 1_000_000_000,
    }),
  })
  if (!limits.ok)
    throw new Error(`changeLimits ${hostname}: ${limits.status} ${await limits.text()}`)
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}

function result(r: {
  opts: LoadgenOptions
  manifest: { commitBytes: number; params: WorkloadParams }
  events: number
  windowS: number
  reports: readonly ConsumerReport[]
  latencies: Float64Array
  cores: { total: number; byThread: Record<string, number> } | null
  loadgenCores: number
  peakRss: number
  hwm: number
  before: Scrape | null
  after: Scrape | null
}): Record<string, unknown> {
  const { opts, reports } = r
  const sorted = r.latencies.sort()
  const inWindow = reports.map((c) => c.receivedInWindow)
  const sentInWindow = Math.round(opts.rate * r.windowS)
  const drops = r.after ? byLabel(r.after, 'relay_events_dropped_total', 'reason') : undefined
  const accepted =
    r.after && r.before
      ? value(r.after, 'relay_events_accepted_total') -
        value(r.before, 'relay_events_accepted_total')
      : undefined
  const mb = (b: number) => round(b / 2 ** 20, 1)
  return {
    date: new Date().toISOString(),
    relay: opts.relay.kind === 'local' ? 'local' : opts.relay.url,
    hosts: opts.hosts,
    accounts: opts.accounts,
    consumers: opts.consumers,
    rate: opts.rate,
    seconds: opts.seconds,
    warmupSeconds: opts.warmupSeconds,
    commitBytes: r.manifest.commitBytes,
    eventsSent: r.events,
    eventsAccepted: accepted,
    // Per consumer: commits sent in the window that it received, per second of the window.
    deliveredPerSec: round(Math.min(...inWindow) / r.windowS, 1),
    deliveredInWindow: { min: Math.min(...inWindow), max: Math.max(...inWindow) },
    received: {
      min: Math.min(...reports.map((c) => c.received)),
      max: Math.max(...reports.map((c) => c.received)),
    },
    complete:
      reports.every((c) => c.received === reports[0]?.received) &&
      reports[0]?.received === r.events,
    gaps: reports.reduce((n, c) => n + c.gaps, 0),
    duplicates: reports.reduce((n, c) => n + c.duplicates, 0),
    unreadable: reports.reduce((n, c) => n + c.unreadable, 0),
    errorFrames: reports.reduce((n, c) => n + c.errorFrames, 0),
    consumersClosed: reports.filter((c) => c.closed).length,
    latencyMs: {
      samples: sorted.length,
      p50: round(percentile(sorted, 50), 1),
      p90: round(percentile(sorted, 90), 1),
      p99: round(percentile(sorted, 99), 1),
      p999: round(percentile(sorted, 99.9), 1),
      max: round(sorted.at(-1) ?? Number.NaN, 1),
    },
    sentInWindowApprox: sentInWindow,
    cpuCores: r.cores?.total,
    cpuByThread: r.cores?.byThread,
    loadgenCores: r.loadgenCores,
    peakRssMB: r.peakRss ? mb(r.peakRss) : undefined,
    hwmRssMB: r.hwm ? mb(r.hwm) : undefined,
    drops,
  }
}
