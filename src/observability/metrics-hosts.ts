// Upstream metrics: per-host series (labelled with the hostname) and totals over all hosts.
// Cardinality: hosts are few and operator-controlled, but a big relay has thousands, so per-host
// series are exported for at most `maxHosts` hosts, the ones with the most events (received plus
// dropped), ties by host id; `relay_metrics_hosts_omitted` says how many were left out. Totals
// (`relay_events_received_total{type}`, `relay_events_dropped_total{reason}`, ...) always cover
// every host. `#info` names come from upstream, so only known names are labels, the rest `other`.
// Deliberately not here: anything per account (no DIDs as labels), the hot path (read at scrape).

import type { Registry } from 'prom-client'
import { HOST_STATUSES } from '../db/schema.ts'
import { INFO_NAMES } from '../protocol/messages.ts'
import { CONNECTION_STATES } from '../upstream/types.ts'
import { EVENT_TYPES } from './event-type-counter.ts'
import type { MetricsSources, UpstreamConnectionSource } from './metrics-sources.ts'
import { RunningTotal } from './running-total.ts'
import { ScrapeMemo, scrapeCounter, scrapeGauge } from './scrape-metric.ts'

/** Upstream `#info` names exported as themselves; any other name is counted as `other`. */
const KNOWN_INFO_NAMES: ReadonlySet<string> = new Set(INFO_NAMES)

interface HostView {
  readonly id: number
  readonly hostname: string
  readonly drops: ReadonlyMap<string, { readonly count: number }>
  readonly connection: UpstreamConnectionSource | undefined
}

interface HostsSnapshot {
  readonly exported: readonly HostView[]
  readonly omitted: number
  readonly byStatus: ReadonlyMap<string, number>
  readonly byState: ReadonlyMap<string, number>
  readonly paused: number
  readonly connections: readonly (readonly [number, UpstreamConnectionSource])[]
}

function snapshot(s: MetricsSources, maxHosts: number): HostsSnapshot {
  const ranked: { view: HostView; volume: number }[] = []
  const byStatus = new Map<string, number>(HOST_STATUSES.map((k) => [k, 0]))
  const byState = new Map<string, number>(CONNECTION_STATES.map((k) => [k, 0]))
  const connections: [number, UpstreamConnectionSource][] = []
  let paused = 0
  for (const host of s.hosts.list()) {
    byStatus.set(host.status, (byStatus.get(host.status) ?? 0) + 1)
    const connection = s.upstream.connection(host.id)
    if (connection) {
      connections.push([host.id, connection])
      byState.set(connection.state, (byState.get(connection.state) ?? 0) + 1)
      if (connection.paused) paused++
    }
    const drops = s.drops.forHost(host.id)
    let volume = s.eventTypes.hostTotal(host.id)
    for (const d of drops.values()) volume += d.count
    ranked.push({ view: { id: host.id, hostname: host.hostname, drops, connection }, volume })
  }
  ranked.sort((a, b) => b.volume - a.volume || a.view.id - b.view.id)
  const exported = ranked.slice(0, maxHosts).map((r) => r.view)
  return {
    exported,
    omitted: ranked.length - exported.length,
    byStatus,
    byState,
    paused,
    connections,
  }
}

export function registerHostMetrics(registry: Registry, s: MetricsSources, maxHosts: number): void {
  const memo = new ScrapeMemo(() => snapshot(s, maxHosts))
  const bytes = new RunningTotal<number>()
  const reconnects = new RunningTotal<number>()

  scrapeCounter(registry, {
    name: 'relay_host_events_received_total',
    help: `Events received from a host, by type (the ${maxHosts} busiest hosts).`,
    labelNames: ['host', 'type'],
    read: (emit) => {
      for (const h of memo.get().exported)
        for (const type of EVENT_TYPES)
          emit(s.eventTypes.get(h.id, type), { host: h.hostname, type: type.slice(1) })
    },
  })
  scrapeCounter(registry, {
    name: 'relay_host_events_dropped_total',
    help: `Events and frames dropped from a host, by reason (the ${maxHosts} busiest hosts).`,
    labelNames: ['host', 'reason'],
    read: (emit) => {
      for (const h of memo.get().exported)
        for (const [reason, d] of h.drops) emit(d.count, { host: h.hostname, reason })
    },
  })
  scrapeGauge(registry, {
    name: 'relay_host_queue_depth',
    help: `Events of a host handed to ingest and not yet complete (the ${maxHosts} busiest hosts).`,
    labelNames: ['host'],
    read: (emit) => {
      for (const h of memo.get().exported)
        if (h.connection) emit(h.connection.inFlight, { host: h.hostname })
    },
  })
  scrapeGauge(registry, {
    name: 'relay_metrics_hosts_omitted',
    help: 'Hosts left out of the per-host series (relay_host_*) by the cap on exported hosts.',
    read: (emit) => emit(memo.get().omitted),
  })
  scrapeCounter(registry, {
    name: 'relay_events_received_total',
    help: 'Events received from upstream hosts and handed to ingest, by type.',
    labelNames: ['type'],
    read: (emit) => {
      const totals = s.eventTypes.totals()
      for (const [i, type] of EVENT_TYPES.entries()) emit(totals[i] ?? 0, { type: type.slice(1) })
    },
  })
  scrapeCounter(registry, {
    name: 'relay_events_dropped_total',
    help: 'Events and frames dropped, by reason (every host).',
    labelNames: ['reason'],
    read: (emit) => {
      for (const [reason, n] of s.drops.totals()) emit(n, { reason })
    },
  })
  scrapeGauge(registry, {
    name: 'relay_hosts',
    help: 'Known upstream hosts, by status.',
    labelNames: ['status'],
    read: (emit) => {
      for (const [status, n] of memo.get().byStatus) emit(n, { status })
    },
  })
  scrapeGauge(registry, {
    name: 'relay_upstream_connections',
    help: 'Upstream connections, by state.',
    labelNames: ['state'],
    read: (emit) => {
      for (const [state, n] of memo.get().byState) emit(n, { state })
    },
  })
  scrapeGauge(registry, {
    name: 'relay_upstream_paused_connections',
    help: 'Upstream connections not being read (too many events in flight, or rate limits).',
    read: (emit) => emit(memo.get().paused),
  })
  scrapeCounter(registry, {
    name: 'relay_upstream_received_bytes_total',
    help: 'Frame bytes received from upstream hosts.',
    read: (emit) =>
      emit(bytes.update(memo.get().connections.map(([id, c]) => [id, c, c.stats.bytesReceived]))),
  })
  scrapeCounter(registry, {
    name: 'relay_upstream_reconnects_total',
    help: 'Upstream reconnection attempts (dials after the first of each connection).',
    read: (emit) =>
      emit(reconnects.update(memo.get().connections.map(([id, c]) => [id, c, c.stats.reconnects]))),
  })
  scrapeCounter(registry, {
    name: 'relay_upstream_info_total',
    help: 'Upstream #info messages, by name (unknown names as "other").',
    labelNames: ['name'],
    read: (emit) => {
      let other = 0
      for (const [name, n] of s.upstream.infoCounts) {
        if (KNOWN_INFO_NAMES.has(name)) emit(n, { name })
        else other += n
      }
      emit(other, { name: 'other' })
    },
  })
  scrapeCounter(registry, {
    name: 'relay_upstream_rate_pauses_total',
    help: 'Times a host was paused for exceeding its event rate limits.',
    read: (emit) => emit(s.upstream.ratePauses),
  })
  scrapeCounter(registry, {
    name: 'relay_upstream_cursor_resets_total',
    help: 'Upstream cursors reset to the live head after repeated FutureCursor answers.',
    read: (emit) => emit(s.upstream.cursorResets),
  })
}
