// The soak's end-of-run summary: what summary.json holds, and the lines printed from it.
import type { Violation } from './consumers.ts'
import type { GcProbe } from './gc-probe.ts'
import type { HostRole, LoadStats } from './load.ts'
import type { MemoryVerdict } from './report.ts'

export interface SoakSummary {
  readonly commit: string
  readonly node: string
  readonly cpus: string
  readonly startedAt: string
  readonly minutes: number
  readonly rate: number
  readonly hosts: readonly { readonly hostname: string; readonly role: HostRole }[]
  readonly accounts: number
  readonly load: LoadStats | null
  /** relay_events_accepted_total at the end. */
  readonly accepted: number
  /** The last seq the honest consumers saw. */
  readonly lastSeq: number | undefined
  readonly honest: readonly {
    readonly name: string
    readonly received: number
    readonly reconnects: number
    readonly errors: Record<string, number>
  }[]
  readonly churnCycles: number
  readonly stuck: Record<string, number>
  readonly replays: readonly { replays: number; fromOne: number; events: number }[]
  /** Upstream events the load sent (commits, identities, forged and invalid ones). */
  readonly sent: number
  /** Events the relay accepted or dropped with a reason (not counting garbage frames). */
  readonly outcomes: number
  /** How long the end waited for every event to reach the relay. */
  readonly drainSeconds: number
  readonly drops: Record<string, number>
  readonly consumerRejections: Record<string, number>
  readonly upstreamReconnects: number
  readonly hostsByStatus: Record<string, number>
  readonly maxFds: number
  readonly logMB: number
  readonly dbMB: number
  readonly relayLogLevels: Record<string, number>
  readonly relayWarnings: readonly string[]
  readonly relayExit: number | string
  readonly memory: MemoryVerdict
  /** Every forced full collection and the memory left after it. */
  readonly probes: readonly GcProbe[]
  /** Probes not taken because the previous one was still running, and probes that failed. */
  readonly probesSkipped: number
  readonly probesFailed: number
  readonly violationCount: number
  readonly violations: readonly Violation[]
  readonly failures: readonly string[]
}

const kv = (o: Record<string, number>) =>
  Object.entries(o)
    .filter(([, v]) => v !== 0)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ') || 'none'

export function printSummary(s: SoakSummary, print: (line: string) => void): void {
  const m = s.memory
  const mb = (v: number) => `${v.toFixed(1)} MB`
  print('')
  print('== soak summary ==')
  print(
    `load: ${s.load?.made ?? 0} commits made (${s.load?.due ?? 0} due), ` +
      `${s.load?.identities ?? 0} #identity, hostile: ${s.load?.forged ?? 0} forged, ` +
      `${s.load?.invalid ?? 0} invalid, ${s.load?.garbage ?? 0} garbage, ${s.load?.flaps ?? 0} flaps; ` +
      `relay accepted ${s.accepted}, last seq ${s.lastSeq ?? '-'}`,
  )
  print(
    `upstream events sent ${s.sent}, with an outcome (accepted or dropped) ${s.outcomes} ` +
      `(after draining ${s.drainSeconds.toFixed(0)} s)`,
  )
  const l = m.live
  if (l) {
    print(
      `live memory after warm-up (RSS after ${l.probes} forced full GCs): ${mb(l.rssAtWarmup)} → ` +
        `${mb(l.rssAtEnd)}, slope ${l.rssSlope.toFixed(2)} MB/10 min (limit ${l.rssLimit.toFixed(1)}); ` +
        `heap used slope ${l.heapSlope.toFixed(2)} MB/10 min (limit ${l.heapLimit.toFixed(1)}): ` +
        `${l.flat ? 'FLAT' : 'GROWING'}`,
    )
  } else if (s.probes.length + s.probesFailed > 0) {
    print(
      `live memory: ${s.probes.length} forced GC(s), too few after warm-up to judge (3 needed); ` +
        'the verdict falls back to plain RSS',
    )
  }
  if (s.probesSkipped + s.probesFailed > 0) {
    print(
      `GC probes skipped (the previous still running) ${s.probesSkipped}, failed ${s.probesFailed}`,
    )
  }
  print(
    `plain memory after warm-up (${(m.warmupEndS / 60).toFixed(1)} min): RSS ${mb(m.rssAtWarmup)} → ` +
      `${mb(m.rssAtEnd)} (peak ${mb(m.rssPeak)}), slope ${m.rssSlope.toFixed(2)} MB/10 min ` +
      `(limit ${m.rssLimit.toFixed(1)}); heap used ${mb(m.heapAtWarmup)} → ${mb(m.heapAtEnd)}, ` +
      `slope ${m.heapSlope.toFixed(2)} MB/10 min (limit ${m.heapLimit.toFixed(1)}): ` +
      `${m.plainFlat ? 'flat' : 'growing'}`,
  )
  print(
    `memory verdict (${l ? 'on the forced-GC probes' : 'on plain RSS and heap'}): ${m.flat ? 'FLAT' : 'GROWING'}`,
  )
  print(
    `RSS between bursts (MB/10 min): slope of each minute's lowest ${m.rssFloorSlope.toFixed(1)}, ` +
      `of each minute's median ${m.rssMedianSlope.toFixed(1)}`,
  )
  const p = m.partSlopes
  print(
    `RSS slope by kind (MB/10 min): V8 pages ${p.v8Pages.toFixed(1)}, malloc heap ` +
      `${p.mallocHeap.toFixed(1)}, other anonymous ${p.otherAnon.toFixed(1)}, files ${p.files.toFixed(1)}`,
  )
  print(`fds max ${s.maxFds}; event log ${mb(s.logMB)}, database ${mb(s.dbMB)}`)
  print(
    `delivered: ${s.honest.map((h) => `${h.name} ${h.received} (reconnects ${h.reconnects}${Object.keys(h.errors).length ? `, ${kv(h.errors)}` : ''})`).join('; ')}`,
  )
  print(
    `hostile consumers: churn ${s.churnCycles} cycles; stuck ${kv(s.stuck)}; ` +
      `replays ${s.replays.map((r) => `${r.replays} (${r.fromOne} from seq 1, ${r.events} events)`).join(', ') || 'none'}`,
  )
  print(`drops by reason: ${kv(s.drops)}`)
  print(`consumers cut off by reason: ${kv(s.consumerRejections)}`)
  print(`upstream reconnects ${s.upstreamReconnects}; hosts by status: ${kv(s.hostsByStatus)}`)
  print(`relay log lines by level: ${kv(s.relayLogLevels)}; relay exit ${s.relayExit}`)
  if (s.lastSeq !== undefined && s.lastSeq !== s.accepted) {
    print(`note: last seq ${s.lastSeq} differs from events accepted ${s.accepted}`)
  }
  print(
    `continuity: ${s.violationCount === 0 ? 'OK (no gap, no duplicate)' : `${s.violationCount} violation(s)`}`,
  )
  print(s.failures.length === 0 ? 'result: OK' : `result: FAILED: ${s.failures.join('; ')}`)
}
