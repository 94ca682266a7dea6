// One load-generator run: the cached workload (workload.ts), its PDS hosts and sender
// (hosts-worker.ts), a mock PLC directory naming each account's host and key, the relay (ours
// as a child process, or any relay already running that speaks the protocol), the consumers
// (consumers-worker.ts), then warm-up, the measured window and a drain. Returns one result
// object; the CLI prints it as one JSON line.
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import { defaultVerifyWorkers } from '../../src/config/load.ts'
import { type MockPlc, startMockPlc } from '../../src/identity/testing/mock-plc.ts'
import { testDidDocument } from '../../test/support/did-doc.ts'
import { ADMIN_KEY } from '../../test/support/relay-harness.ts'
import { freePort, type RelayProcess, startRelayProcess } from '../../test/support/relay-process.ts'
import { debuggerUrlIn, INSPECT_FLAG } from '../soak/gc-probe.ts'
import { scrape } from '../soak/sample.ts'
import { WorkerChannel } from './channel.ts'
import { nowMs, sleep } from './clock.ts'
import type { ConsumersOut, ConsumersTask } from './consumers-worker.ts'
import type { HostsIn, HostsOut, HostsTask } from './hosts-worker.ts'
import { coresBetween, cpuSnapshot, memory, round } from './proc.ts'
import { resultLine } from './result.ts'
import { slowBurst } from './slow-consumers.ts'
import {
  ensureRepos,
  ensureWorkload,
  eventsHolding,
  type Manifest,
  type ShardSelection,
  type WorkloadParams,
} from './workload.ts'

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
        /** Another checkout's `src/main.ts` (`--compare`); this one's when absent. */
        readonly main?: string | undefined
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
  /** Subscribers that never read, connected at the window's start for `slowSeconds`. */
  readonly slowConsumers: number
  readonly slowSeconds: number
  /** The hosts serve getRepo (workload-repos.ts). */
  readonly serveRepos: boolean
  /** Send only the events of the accounts the relay's `count` shards give to shard `index`. */
  readonly onlyShard?: ShardSelection | undefined
  /** Where to write our relay's log lines when the run ends (to see why it dropped something). */
  readonly relayLog?: string | undefined
  readonly log: (line: string) => void
}

/**
 * The cached workload a run with these options sends (generated first if no cached one holds
 * it), and how many of its events: a sweep calls it for its highest rate before its first run,
 * so that every lower rate sends the first events of one workload instead of generating its own.
 */
export async function loadgenWorkload(opts: LoadgenOptions): Promise<{
  /** The events sent: all of `params.events`, or with `onlyShard` that shard's among them. */
  readonly wanted: number
  readonly params: WorkloadParams
  readonly dir: string
  readonly manifest: Manifest
}> {
  const wanted = Math.ceil(opts.rate * (opts.warmupSeconds + opts.seconds))
  const base = {
    hosts: opts.hosts,
    accounts: opts.accounts,
    seed: opts.seed,
    records: opts.records,
  }
  // With one shard's accounts only, as many of the workload's first events as hold `wanted`
  // of that shard's (about `count` times as many; the schedule says exactly).
  const events = opts.onlyShard
    ? eventsHolding(
        { ...base, events: 0 },
        wanted,
        opts.onlyShard,
        wanted * opts.onlyShard.count * 2,
      )
    : wanted
  const params: WorkloadParams = { ...base, events }
  const { dir, manifest } = await ensureWorkload(opts.cacheDir, params, opts.log)
  if (opts.serveRepos) await ensureRepos(dir, manifest, opts.log)
  return { wanted, params, dir, manifest }
}

export async function runLoadgen(opts: LoadgenOptions): Promise<Record<string, unknown>> {
  const { log } = opts
  const { wanted, params, dir, manifest } = await loadgenWorkload(opts)
  const { events } = params
  const sendTimes = new SharedArrayBuffer(8 * events)
  const window = new SharedArrayBuffer(16)
  const windowTimes = new Float64Array(window)
  const hosts = new WorkerChannel<HostsOut>(
    new Worker(new URL('./hosts-worker.ts', import.meta.url), {
      workerData: {
        dir,
        events,
        sendTimes,
        window,
        serveRepos: opts.serveRepos,
        onlyShard: opts.onlyShard,
      } satisfies HostsTask,
    }),
    'hosts',
  )
  const parts: { consumers?: Worker; plc?: MockPlc; relay?: RelayProcess; relayDir?: string } = {}
  try {
    const { hosts: hostnames } = await hosts.next((m) => 'hosts' in m)
    const plcPort = opts.relay.kind === 'external' ? opts.relay.plcPort : undefined
    const plc = await startMockPlc({}, plcPort)
    parts.plc = plc
    for (const a of manifest.accounts) {
      plc.setDocument(
        a.did,
        testDidDocument(a.did, `http://${hostnames[a.host]}`, {
          handle: `${a.did.slice(8)}.loadgen.test`,
          publicKeyMultibase: a.publicKeyMultibase,
        }),
      )
    }
    const relay = await startRelay(opts, plc.url, parts)
    log(`relay at ${relay.url}${relay.pid ? ` (pid ${relay.pid})` : ''}; PLC at ${plc.url}`)
    for (const hostname of hostnames)
      await addHost(relay.url, hostname, relay.adminKey, opts.serveRepos)
    await hosts.next((m) => 'subscribed' in m)
    // With repos served, the relay first takes in every account's starting repo (a whole-host
    // resync of each host, the way an archival relay is filled before it follows a network), so
    // the window measures the mirror following commits, not a burst of first-commit repairs.
    const mirrorSeed =
      opts.serveRepos && relay.adminKey !== undefined
        ? await seedMirror(relay.url, relay.adminKey, hostnames, log)
        : undefined

    parts.consumers = new Worker(new URL('./consumers-worker.ts', import.meta.url), {
      workerData: {
        url: `${relay.url.replace(/^http/, 'ws')}/xrpc/com.atproto.sync.subscribeRepos`,
        consumers: opts.consumers,
        baseMicros: manifest.baseMicros,
        events,
        sendTimes,
        window,
      } satisfies ConsumersTask,
    })
    const consumers = new WorkerChannel<ConsumersOut>(parts.consumers, 'consumers')
    await consumers.next((m) => 'connected' in m)
    const report = async () => {
      consumers.worker.postMessage('report')
      return consumers.next((m): m is Extract<ConsumersOut, { report: unknown }> => 'report' in m)
    }

    log(
      `sending ${wanted} events${opts.onlyShard ? ` (of the first ${events}: shard ${opts.onlyShard.index}'s)` : ''} at ${opts.rate}/s: ${opts.warmupSeconds} s warm-up, ${opts.seconds} s measured`,
    )
    const before = relay.metricsUrl ? await scrape(relay.metricsUrl) : null
    hosts.worker.postMessage({ start: { rate: opts.rate } } satisfies HostsIn)
    const startMs = nowMs()
    await sleep(opts.warmupSeconds * 1000)
    windowTimes[0] = nowMs()
    const { pid } = relay
    const cpuFrom = pid ? await cpuSnapshot(pid) : null
    const ownCpuFrom = process.cpuUsage()
    let peakRss = 0
    let lastRss = 0
    const sampler = setInterval(() => {
      if (pid)
        void memory(pid).then(
          (m) => {
            peakRss = Math.max(peakRss, m.rss)
            lastRss = m.rss
          },
          () => {},
        )
    }, 250)
    const windowEnd = startMs + (opts.warmupSeconds + opts.seconds) * 1000
    const slow =
      opts.slowConsumers > 0
        ? await slowBurst({
            wsUrl: `${relay.url.replace(/^http/, 'ws')}/xrpc/com.atproto.sync.subscribeRepos`,
            metricsUrl: relay.metricsUrl,
            debuggerUrl: relay.debuggerUrl,
            pid,
            count: opts.slowConsumers,
            seconds: opts.slowSeconds,
            windowStart: windowTimes[0]!,
            windowEnd,
            log,
          })
        : undefined
    await sleep(Math.max(0, windowEnd - nowMs()))
    const slowConsumers = slow && { ...slow, rssAtWindowEndMB: round(lastRss / 2 ** 20, 1) }
    windowTimes[1] = nowMs()
    const cpuTo = pid ? await cpuSnapshot(pid) : null
    const ownCpu = process.cpuUsage(ownCpuFrom)
    const windowS = (windowTimes[1] - windowTimes[0]!) / 1000
    const finished = await hosts.next(
      (m): m is Extract<HostsOut, { finished: number }> => 'finished' in m,
    )
    // Drain: until every consumer has everything, or nothing more arrives anywhere for 2 s.
    let last = -1
    const drainUntil = nowMs() + opts.drainSeconds * 1000
    let r = await report()
    for (;;) {
      const total = r.report.reduce((n, c) => n + c.received, 0)
      const done = r.report.every((c) => c.received >= finished.finished)
      if (done || total === last || nowMs() >= drainUntil) break
      last = total
      await sleep(2000)
      r = await report()
    }
    clearInterval(sampler)
    const mem = pid ? await memory(pid).catch(() => null) : null
    return resultLine({
      relay: opts.relay.kind === 'local' ? 'local' : opts.relay.url,
      params: {
        hosts: opts.hosts,
        accounts: opts.accounts,
        consumers: opts.consumers,
        rate: opts.rate,
        seconds: opts.seconds,
        warmupSeconds: opts.warmupSeconds,
        onlyShard: opts.onlyShard && `${opts.onlyShard.index}/${opts.onlyShard.count}`,
      },
      commitBytes: manifest.commitBytes,
      sent: finished.finished,
      commitsSent: finished.commitsSent,
      sentInWindow: finished.sentInWindow,
      commitsInWindow: finished.commitsInWindow,
      senderMaxBehind: finished.maxBehind,
      windowS,
      reports: r.report,
      latencies: r.latencies,
      cores: pid && cpuFrom && cpuTo ? coresBetween(pid, cpuFrom, cpuTo) : null,
      loadgenCores: round((ownCpu.user + ownCpu.system) / 1e6 / windowS, 3),
      peakRss,
      hwm: mem?.hwm ?? 0,
      before,
      after: relay.metricsUrl ? await scrape(relay.metricsUrl) : null,
      mirrorSeed,
      slowConsumers,
    })
  } finally {
    hosts.worker.postMessage({ stop: true } satisfies HostsIn)
    await sleep(100)
    await hosts.worker.terminate()
    await parts.consumers?.terminate()
    if (parts.relay) {
      parts.relay.child.kill('SIGTERM')
      await parts.relay.exited
      if (opts.relayLog) await writeFile(opts.relayLog, `${parts.relay.logs.join('\n')}\n`)
    }
    await parts.plc?.close()
    if (parts.relayDir) await rm(parts.relayDir, { recursive: true, force: true })
  }
}

interface RelayUnderTest {
  readonly url: string
  readonly pid: number | undefined
  readonly metricsUrl: string | undefined
  readonly adminKey: string | undefined
  /** The relay's inspector (ours, with --slow-consumers), for forced collections. */
  readonly debuggerUrl?: string | undefined
}

/** Our relay as a child process on a temporary directory, or the external one as given. */
async function startRelay(
  opts: LoadgenOptions,
  plcUrl: string,
  parts: { relay?: RelayProcess; relayDir?: string },
): Promise<RelayUnderTest> {
  if (opts.relay.kind === 'external') {
    const { url, pid, adminPassword } = opts.relay
    return { url: url.replace(/\/$/, ''), pid, metricsUrl: undefined, adminKey: adminPassword }
  }
  parts.relayDir = await mkdtemp(join(tmpdir(), 'relay-loadgen-'))
  const metricsPort = await freePort()
  const relay = await startRelayProcess(
    parts.relayDir,
    plcUrl,
    [
      '--metrics-listen',
      `127.0.0.1:${metricsPort}`,
      // A large account limit also lifts the hosts' event rate limits, which scale with it.
      '--default-account-limit',
      '100000000',
      // The relay's own default (the test harness that starts it asks for one worker).
      '--verify-workers',
      String(defaultVerifyWorkers(availableParallelism())),
      ...opts.relay.flags,
    ],
    {
      env: opts.relay.env,
      // The slow-consumer burst forces full collections through the inspector (loopback only)
      // to tell memory still in use from garbage not yet collected.
      nodeFlags: [...opts.relay.nodeFlags, ...(opts.slowConsumers > 0 ? [INSPECT_FLAG] : [])],
      main: opts.relay.main,
    },
  )
  parts.relay = relay
  return {
    url: relay.url,
    pid: relay.pid,
    metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`,
    adminKey: ADMIN_KEY,
    debuggerUrl: debuggerUrlIn(relay.logs),
  }
}

/** Longest wait for the resyncs that fill the mirror (2,000 repos take ~30 s on two cores). */
const SEED_TIMEOUT_MS = 10 * 60_000

/** Resyncs every host through the admin API and waits until all are done. */
async function seedMirror(
  relayUrl: string,
  adminKey: string,
  hostnames: readonly string[],
  log: (line: string) => void,
): Promise<{ repos: number; seconds: number; failed: number }> {
  const headers = { authorization: `Bearer ${adminKey}` }
  const started = nowMs()
  for (const host of hostnames) {
    const res = await fetch(`${relayUrl}/admin/pds/resync?host=${encodeURIComponent(host)}`, {
      method: 'POST',
      headers,
    })
    if (!res.ok) throw new Error(`resync ${host}: ${res.status} ${await res.text()}`)
  }
  for (;;) {
    await sleep(500)
    // A resync that never ends would hang the run: give up, saying so.
    if (nowMs() - started > SEED_TIMEOUT_MS)
      throw new Error(`the hosts' resyncs did not finish in ${SEED_TIMEOUT_MS / 60_000} minutes`)
    let repos = 0
    let failed = 0
    let running = 0
    for (const host of hostnames) {
      const res = await fetch(`${relayUrl}/admin/pds/resync?host=${encodeURIComponent(host)}`, {
        headers,
      })
      if (!res.ok) throw new Error(`resync ${host}: ${res.status} ${await res.text()}`)
      const { resync } = (await res.json()) as {
        resync: { status: string; numReposResynced: number; numReposFailed: number }
      }
      if (resync.status === 'failed') throw new Error(`resync ${host} failed`)
      if (resync.status === 'running') running++
      repos += resync.numReposResynced
      failed += resync.numReposFailed
    }
    if (running === 0) {
      const seconds = round((nowMs() - started) / 1000, 1)
      log(`mirror seeded: ${repos} repos in ${seconds} s (${failed} failed)`)
      return { repos, seconds, failed }
    }
  }
}

async function addHost(
  relayUrl: string,
  hostname: string,
  adminKey: string | undefined,
  fastCrawl: boolean,
) {
  // Basic `admin:<key>`: what both relays take (Bluesky's Go relay takes no Bearer token).
  const basic = Buffer.from(`admin:${adminKey}`).toString('base64')
  const headers = { 'content-type': 'application/json', authorization: `Basic ${basic}` }
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
      // The Go relay derives a host's event limits from its account limit and takes no others.
      repo_limit: 1_000_000,
      // Repo fetches per second (resyncs, repairs) when the hosts serve repos.
      ...(fastCrawl ? { crawl_rate: 1000 } : {}),
    }),
  })
  if (!limits.ok)
    throw new Error(`changeLimits ${hostname}: ${limits.status} ${await limits.text()}`)
}
