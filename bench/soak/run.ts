// The soak (issue 11): a real relay process under steady load for a long time, with hostile hosts
// and consumers mixed in, sampled every few seconds and probed with forced full collections
// (gc-probe.ts). The load (mock PLC, PDSes, commits) runs in one child process (load-child.ts),
// the relay in another (test/support/relay-process.ts), and the consumers and the sampling here.
// See bench/soak.ts for the command line.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort, startRelayProcess } from '../../test/support/relay-process.ts'
import {
  ChurnConsumer,
  type ConsumerContext,
  HonestConsumer,
  ReplayConsumer,
  type SoakConsumer,
  StuckConsumer,
  type Violation,
} from './consumers.ts'
import {
  debuggerUrlIn,
  type GcProbe,
  INSPECT_FLAG,
  type ProbeTarget,
  takeProbe,
} from './gc-probe.ts'
import type { LoadStats } from './load.ts'
import { git, startLoad } from './load-child.ts'
import { RelayLog } from './relay-log.ts'
import {
  HEADER,
  type MemoryVerdict,
  memoryVerdict,
  probeLine,
  probesCsv,
  type Sample,
  sampleLine,
  toCsv,
  toSvg,
} from './report.ts'
import {
  byLabel,
  dirBytes,
  procStats,
  rssParts,
  type Scrape,
  scrape,
  total,
  value,
} from './sample.ts'
import { printSummary, type SoakSummary } from './summary.ts'

export interface SoakOptions {
  readonly minutes: number
  /** Commits per second offered over all hosts. */
  readonly rate: number
  /** Honest hosts (the hostile ones come on top). */
  readonly hosts: number
  readonly accounts: number
  readonly outDir: string
  readonly sampleSeconds: number
  /** The garbage and flapping hosts, churning, stuck and replaying consumers. */
  readonly hostile: boolean
  /** Only the hostile hosts (garbage, flapping) or only the hostile consumers; both by default. */
  readonly hostileOnly?: 'hosts' | 'consumers'
  /** Extra environment for the relay process (e.g. MALLOC_ARENA_MAX, LD_PRELOAD). */
  readonly relayEnv?: Readonly<Record<string, string>>
  /** Node/V8 flags for the relay process (e.g. `--trace-gc`); their output goes to stdout. */
  readonly relayNodeFlags?: readonly string[]
  /** How long the stuck consumer holds its socket unread before looking (default 90 s). */
  readonly stuckHoldMs: number
  /** How often the replaying consumer starts again from cursor 0. */
  readonly replayEveryMs: number
  /** How long the end waits for hosts in reconnection backoff to deliver the rest. */
  readonly drainSeconds: number
  /**
   * How often to force a full garbage collection in the relay and read what memory is left
   * (gc-probe.ts); 0 for never. The memory verdict is taken on these probes when there are any.
   */
  readonly gcProbeEveryMs: number
  /** How long after a forced collection to read RSS: the allocator returns pages lazily. */
  readonly gcProbeSettleMs: number
  /** Keep the relay's data directory (event log, database) after the run. */
  readonly keepData: boolean
  readonly print: (line: string) => void
}

export interface SoakResult {
  readonly ok: boolean
  /** Why not ok (empty when ok). */
  readonly failures: readonly string[]
  readonly samples: readonly Sample[]
  readonly memory: MemoryVerdict
  readonly probes: readonly GcProbe[]
  readonly violations: readonly Violation[]
  readonly violationCount: number
  /** Events the honest consumers received, each. */
  readonly delivered: readonly number[]
  readonly final: SoakSummary
}

export async function runSoak(opts: SoakOptions): Promise<SoakResult> {
  const print = opts.print
  const hostileHosts = opts.hostile && opts.hostileOnly !== 'consumers'
  const hostileConsumers = opts.hostile && opts.hostileOnly !== 'hosts'
  const runS = opts.minutes * 60
  const commit = process.env.SOAK_COMMIT ?? git(['rev-parse', '--short', 'HEAD'])
  print(
    `soak: ${opts.minutes} min, ${opts.rate} commits/s, ${opts.hosts} honest hosts` +
      `${hostileHosts ? ' + garbage + flapping' : ''}, ${opts.accounts} accounts` +
      `${hostileConsumers ? ', hostile consumers' : ''}` +
      Object.entries(opts.relayEnv ?? {})
        .map(([k, v]) => `, relay env ${k}=${v}`)
        .join('') +
      (opts.relayNodeFlags ?? []).map((f) => `, relay flag ${f}`).join(''),
  )
  print(
    `node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? '?'}, commit ${commit}, ` +
      `${new Date().toISOString()}`,
  )
  await mkdir(opts.outDir, { recursive: true })
  const dir = await mkdtemp(join(tmpdir(), 'relay-soak-'))
  const failures: string[] = []

  const load = await startLoad({
    rate: opts.rate,
    hosts: opts.hosts,
    accounts: opts.accounts,
    hostile: hostileHosts,
  })
  const metricsPort = await freePort()
  // The inspector listens on loopback only, and only for the soak's relay.
  const probing = opts.gcProbeEveryMs > 0
  const nodeFlags = [...(opts.relayNodeFlags ?? []), ...(probing ? [INSPECT_FLAG] : [])]
  const relay = await startRelayProcess(
    dir,
    load.plc,
    [
      '--metrics-listen',
      `127.0.0.1:${metricsPort}`,
      // A large account limit also lifts the hosts' event rate limits, which scale with it.
      '--default-account-limit',
      '100000000',
    ],
    { env: opts.relayEnv, nodeFlags },
  ).catch((err: unknown) => {
    load.child.kill()
    throw err
  })
  let relayExit: number | string | null = null
  void relay.exited.then((code) => {
    relayExit = code
  })
  const metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`
  let probeTarget: ProbeTarget | null = null
  if (probing) {
    const debuggerUrl = debuggerUrlIn(relay.logs)
    if (debuggerUrl === undefined) failures.push('the relay did not say where its inspector is')
    else probeTarget = { pid: relay.pid, debuggerUrl, metricsUrl, settleMs: opts.gcProbeSettleMs }
  }
  for (const h of load.hosts) {
    const res = await relay.crawl(h.hostname)
    if (!res.ok) throw new Error(`crawl of ${h.hostname}: ${res.status} ${await res.text()}`)
  }
  print(`relay pid ${relay.pid} at ${relay.url}, data in ${dir}, output in ${opts.outDir}`)

  // Consumers.
  const t0 = performance.now()
  const elapsed = () => (performance.now() - t0) / 1000
  const violations: Violation[] = []
  let violationCount = 0
  const honest = [0, 1].map((i) => new HonestConsumer(`honest-${i}`, ctx()))
  function ctx(): ConsumerContext {
    return {
      wsUrl: relay.wsUrl,
      elapsed,
      violation: (v) => {
        violationCount++
        if (violations.length < 100) violations.push(v)
        if (violationCount <= 10)
          print(`VIOLATION ${v.consumer} at ${v.at.toFixed(0)} s: ${v.kind} ${v.detail}`)
      },
      head: () => Math.max(...honest.map((h) => h.head)),
    }
  }
  const churn = hostileConsumers ? [0, 1].map((i) => new ChurnConsumer(`churn-${i}`, ctx())) : []
  const stuck = hostileConsumers ? [new StuckConsumer('stuck', ctx(), opts.stuckHoldMs)] : []
  const replay = hostileConsumers
    ? [new ReplayConsumer('replay', ctx(), opts.replayEveryMs, 50_000, 20_000)]
    : []
  const consumers: SoakConsumer[] = [...honest, ...churn, ...stuck, ...replay]
  for (const c of consumers) c.start()

  const relayLog = new RelayLog(relay.logs, join(opts.outDir, 'relay.log'))
  const drainLogs = () => relayLog.drain()

  const samples: Sample[] = []
  let prev = { t: 0, made: 0, accepted: 0, delivered: 0 }
  let last: Scrape = new Map()
  const sample = async (): Promise<void> => {
    const t = elapsed()
    const [proc, parts, m, logBytes, dbBytes] = await Promise.all([
      procStats(relay.pid),
      rssParts(relay.pid),
      scrape(metricsUrl),
      dirBytes(join(dir, 'persist')),
      dirBytes(dir, 'relay.sqlite'),
    ])
    last = m
    drainLogs()
    const made = load.stats()?.made ?? 0
    const accepted = value(m, 'relay_events_accepted_total')
    const delivered = honest[0]!.live
    const dt = Math.max(0.001, t - prev.t)
    const s: Sample = {
      t,
      rssMB: proc.rss / 2 ** 20,
      anonMB: proc.anon / 2 ** 20,
      v8PagesMB: parts.v8Pages / 2 ** 20,
      mallocHeapMB: parts.mallocHeap / 2 ** 20,
      otherAnonMB: parts.otherAnon / 2 ** 20,
      filesMB: parts.files / 2 ** 20,
      heapUsedMB: value(m, 'nodejs_heap_size_used_bytes') / 2 ** 20,
      heapTotalMB: value(m, 'nodejs_heap_size_total_bytes') / 2 ** 20,
      externalMB: value(m, 'nodejs_external_memory_bytes') / 2 ** 20,
      v8MallocMB: value(m, 'nodejs_v8_malloced_bytes') / 2 ** 20,
      workerHeapTotalMB: value(m, 'relay_verify_worker_heap_bytes{kind="total"}') / 2 ** 20,
      workerHeapUsedMB: value(m, 'relay_verify_worker_heap_bytes{kind="used"}') / 2 ** 20,
      consumerBufMB: value(m, 'relay_consumer_buffered_bytes') / 2 ** 20,
      fds: proc.fds,
      logMB: logBytes / 2 ** 20,
      dbMB: dbBytes / 2 ** 20,
      offeredPerSec: (made - prev.made) / dt,
      acceptedPerSec: (accepted - prev.accepted) / dt,
      deliveredPerSec: (delivered - prev.delivered) / dt,
      consumers: total(m, 'relay_consumers'),
      dropped: total(m, 'relay_events_dropped_total'),
    }
    prev = { t, made, accepted, delivered }
    samples.push(s)
    print(sampleLine(s))
  }

  const probes: GcProbe[] = []
  const probeCounts = { skipped: 0, failed: 0 }
  const probe = async (target: ProbeTarget): Promise<void> => {
    const p = await takeProbe(target, elapsed())
    probes.push(p)
    print(probeLine(p))
  }

  print(HEADER)
  const end = t0 + runS * 1000
  let nextSample = t0 + opts.sampleSeconds * 1000
  let nextProbe = probeTarget ? t0 + opts.gcProbeEveryMs : Number.POSITIVE_INFINITY
  let probeRunning: Promise<void> | null = null
  while (performance.now() < end && relayExit === null) {
    const wake = Math.min(nextSample, nextProbe, end)
    await new Promise((r) => setTimeout(r, Math.max(0, wake - performance.now())))
    if (relayExit !== null) break
    // A probe runs beside the sampling (it waits out the allocator's settling time); one at a time.
    if (probeTarget && performance.now() >= nextProbe) {
      nextProbe += opts.gcProbeEveryMs
      if (probeRunning)
        probeCounts.skipped++ // the previous one is still settling
      else {
        probeRunning = probe(probeTarget)
          .catch((err: unknown) => {
            probeCounts.failed++
            print(`GC probe failed: ${String(err)}`)
          })
          .finally(() => {
            probeRunning = null
          })
      }
    }
    if (performance.now() >= nextSample || performance.now() >= end) {
      await sample().catch((err: unknown) => print(`sample failed: ${String(err)}`))
      nextSample += opts.sampleSeconds * 1000
    }
  }
  await probeRunning
  if (relayExit !== null) failures.push(`the relay exited during the run (${relayExit})`)

  // Stop the load and drain: a hostile host may be waiting out the relay's reconnection
  // backoff (up to 5 minutes) with events the relay has not read yet; every event sent must get
  // its outcome once the relay is back, and every honest consumer must reach the last seq.
  load.child.stdin!.end() // the generator stops and says its final counts
  const outcomesOf = (m: Scrape) => {
    const drops = byLabel(m, 'relay_events_dropped_total', 'reason')
    const dropped = Object.entries(drops).reduce(
      (n, [r, v]) => (r === 'undecodable-frame' ? n : n + v),
      0,
    )
    return { accepted: value(m, 'relay_events_accepted_total'), drops, dropped }
  }
  const sentBy = (st: LoadStats | null) =>
    st ? st.made + st.identities + st.forged + st.invalid : 0
  const drainStart = performance.now()
  let said = 0
  while (relayExit === null && performance.now() - drainStart < opts.drainSeconds * 1000) {
    await new Promise((r) => setTimeout(r, 1000))
    const m = await scrape(metricsUrl).catch(() => null)
    if (!m) break
    last = m
    const o = outcomesOf(m)
    const missing = sentBy(load.stats()) - o.accepted - o.dropped
    const caughtUp = honest.every((h) => h.head === o.accepted)
    if (load.finished() && missing <= 0 && caughtUp) break
    const waited = (performance.now() - drainStart) / 1000
    if (waited - said >= 30) {
      said = waited
      print(`draining (${waited.toFixed(0)} s): ${missing} event(s) still to reach the relay`)
    }
  }
  const drainS = (performance.now() - drainStart) / 1000
  const heads = honest.map((h) => h.head)
  if (heads.some((h) => h !== heads[0])) {
    failures.push(`honest consumers ended on different seqs: ${heads.join(', ')}`)
  }
  for (const c of consumers) await c.stop()
  const stats = load.stats()
  load.child.kill()
  drainLogs()

  relay.child.kill('SIGTERM')
  let stopTimer: NodeJS.Timeout | undefined
  const stopped = await Promise.race([
    relay.exited,
    new Promise<string>((r) => {
      stopTimer = setTimeout(() => r('timeout'), 30_000)
    }),
  ])
  clearTimeout(stopTimer)
  if (stopped === 'timeout') {
    relay.child.kill('SIGKILL')
    failures.push('the relay did not stop within 30 s of SIGTERM')
  } else if (relayExit === null && stopped !== 0) {
    failures.push(`the relay exited with ${stopped} on SIGTERM`)
  }
  drainLogs()
  relayLog.end()
  // Every upstream event has exactly one outcome: accepted, or dropped with a reason (frames
  // that were no event at all, the garbage, are dropped as undecodable on top).
  const { accepted, drops, dropped } = outcomesOf(last)
  const sent = sentBy(stats)
  const outcomes = accepted + dropped
  if (outcomes < sent) {
    failures.push(
      `${sent - outcomes} upstream event(s) without an outcome after ${drainS.toFixed(0)} s`,
    )
  }
  if (violationCount > 0) failures.push(`${violationCount} continuity violation(s)`)
  const delivered = honest.map((h) => h.received)
  if (delivered.some((n) => n === 0)) failures.push('an honest consumer received nothing')

  const memory = memoryVerdict(samples, runS, probes)
  const final: SoakSummary = {
    commit,
    node: process.version,
    cpus: `${cpus().length} × ${cpus()[0]?.model ?? '?'}`,
    startedAt: new Date(Date.now() - elapsed() * 1000).toISOString(),
    minutes: opts.minutes,
    rate: opts.rate,
    hosts: load.hosts,
    accounts: opts.accounts,
    load: stats,
    accepted,
    lastSeq: heads[0],
    honest: honest.map((h) => ({
      name: h.name,
      received: h.received,
      reconnects: h.reconnects,
      errors: Object.fromEntries(h.errors),
    })),
    churnCycles: churn.reduce((n, c) => n + c.cycles, 0),
    stuck: Object.fromEntries(stuck[0]?.outcomes ?? []),
    replays: replay.map((r) => ({ replays: r.replays, fromOne: r.fromOne, events: r.received })),
    sent,
    outcomes,
    drainSeconds: drainS,
    drops,
    consumerRejections: byLabel(last, 'relay_consumer_rejections_total', 'reason'),
    upstreamReconnects: total(last, 'relay_upstream_reconnects_total'),
    hostsByStatus: byLabel(last, 'relay_hosts', 'status'),
    maxFds: Math.max(0, ...samples.map((s) => s.fds)),
    logMB: samples.at(-1)?.logMB ?? 0,
    dbMB: samples.at(-1)?.dbMB ?? 0,
    relayLogLevels: Object.fromEntries(relayLog.levels),
    relayWarnings: relayLog.warnings,
    relayExit: relayExit ?? stopped,
    memory,
    probes,
    probesSkipped: probeCounts.skipped,
    probesFailed: probeCounts.failed,
    violationCount,
    violations,
    failures,
  }
  await writeFile(join(opts.outDir, 'samples.csv'), toCsv(samples))
  await writeFile(join(opts.outDir, 'memory.svg'), toSvg(samples, memory.warmupEndS, probes))
  if (probes.length > 0) await writeFile(join(opts.outDir, 'probes.csv'), probesCsv(probes))
  await writeFile(join(opts.outDir, 'summary.json'), `${JSON.stringify(final, null, 2)}\n`)
  printSummary(final, print)
  if (!opts.keepData) await rm(dir, { recursive: true, force: true })
  return {
    ok: failures.length === 0,
    failures,
    samples,
    memory,
    probes,
    violations,
    violationCount,
    delivered,
    final,
  }
}
