// The library side of `relay plc-hosts` (the command line is plc-hosts.ts): pages through a PLC
// directory's export, keeps the latest operation's PDS per DID, and writes `hosts.txt` (one bare
// hostname per line, most accounts first, ties by name) and `hosts.counts.tsv` (`count<TAB>host`)
// beside it: the usual list to bootstrap a full-network relay.
//
// Which operation wins: the newest non-nullified one per DID, in the export's createdAt order. A
// `plc_operation` declares `services.atproto_pds`, a legacy `create` its `service`; a tombstone or
// an operation without a PDS leaves the DID with none. An endpoint counts only when the relay's
// resolver would read it (normalizePdsEndpoint) and it is `https://` with a hostname requestCrawl
// accepts without --allow-insecure-hosts (no IPs, ports, localhost, special-use TLDs); other DIDs
// are counted as refused.
// Paging: `after` is the newest createdAt applied. Several operations can share a millisecond and
// the export's `after` is exclusive, so each request asks from 1 ms earlier and drops operations
// already applied (older ones, and the remembered CIDs of that millisecond). If a whole page is
// already-seen operations of one millisecond, the page is asked again at the export's maximum
// size (1000); if even that is all seen, the rest of that millisecond is skipped (counted as
// tieSkips: more than 1000 operations in one millisecond, which the export gives no cursor for).
// The run ends at a page with nothing new that is shorter than what was asked.
// Resuming, memory and disk: see plc-hosts-state.ts (journal) and plc-did-table.ts (~25–50 bytes
// per DID: ~1.3 GB for 40M DIDs). A checkpoint is taken every 5 s, when 4 MiB of changes are
// buffered, on abort and at the end.
// Deliberately not here: HTTP retries and line parsing (plc-export.ts), the command line and its
// progress printing (plc-hosts.ts), crawling the hosts.

import { InvalidHostnameError } from '../hosts/errors.ts'
import { normalizeHostname } from '../hosts/hostname.ts'
import { normalizePdsEndpoint } from '../identity/did-document.ts'
import { encodeDid, newDidKey } from './plc-did-table.ts'
import {
  type ExportEntry,
  fetchExportPage,
  type PlcExportClientOptions,
  parseExportLine,
} from './plc-export.ts'
import { writeFileAtomic } from './plc-files.ts'
import { NO_PDS, PlcHostsState, REFUSED } from './plc-hosts-state.ts'

export interface PlcHostsProgress {
  /** Operations applied so far (all runs). */
  readonly operations: number
  /** DIDs seen so far (whatever their PDS). */
  readonly dids: number
  /** Distinct valid hostnames seen so far (some may no longer have accounts). */
  readonly hosts: number
  /** createdAt of the newest operation applied. */
  readonly after: string | null
  /** Operations per second in this run. */
  readonly rate: number
}

export interface PlcHostsOptions {
  readonly plcUrl: string
  /** Path of hosts.txt; the counts go to the same name with `.counts.tsv` for `.txt`. */
  readonly out: string
  /** Resume file; default `${out}.state.json` (plus `.journal` and `.lock` beside it). */
  readonly statePath?: string
  readonly userAgent: string
  /** The export's `count` (1–1000): default 1000. */
  readonly pageSize?: number
  readonly signal?: AbortSignal
  /** Called after every page. */
  readonly onProgress?: (p: PlcHostsProgress) => void
  readonly fetch?: typeof fetch
  readonly now?: () => number
  /** HTTP retry tuning (timeouts, attempts, backoff, injected sleep), mostly for tests. */
  readonly http?: Omit<PlcExportClientOptions, 'plcUrl' | 'userAgent' | 'fetch'>
  /** Default 5000; 0 checkpoints after every page. */
  readonly checkpointIntervalMs?: number
}

export interface PlcHostsResult {
  /** Lines of hosts.txt. */
  readonly hosts: number
  /** DIDs counted in hosts.txt (whose PDS is a valid host). */
  readonly dids: number
  /** Operations applied (all runs). */
  readonly operations: number
  /** DIDs whose PDS endpoint was refused (invalid, IP, port, localhost, not https). */
  readonly refused: number
  /** DIDs with no PDS (tombstoned, or no atproto_pds service). */
  readonly noPds: number
  readonly malformedLines: number
  readonly tieSkips: number
}

const MAX_PAGE_SIZE = 1000
const MAX_PENDING_BYTES = 4 * 1024 * 1024
const ENDPOINT_CACHE_LIMIT = 100_000

export async function plcHosts(opts: PlcHostsOptions): Promise<PlcHostsResult> {
  const pageSize = opts.pageSize ?? MAX_PAGE_SIZE
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > MAX_PAGE_SIZE) {
    throw new RangeError(`pageSize must be an integer from 1 to ${MAX_PAGE_SIZE}`)
  }
  const plcUrl = opts.plcUrl.replace(/\/+$/, '')
  const now = opts.now ?? Date.now
  const interval = opts.checkpointIntervalMs ?? 5000
  const signal = opts.signal
  signal?.throwIfAborted()
  const client: PlcExportClientOptions = {
    ...opts.http,
    plcUrl,
    userAgent: opts.userAgent,
    fetch: opts.fetch,
  }
  const state = await PlcHostsState.open(opts.statePath ?? `${opts.out}.state.json`, plcUrl)
  try {
    const apply = applier(state)
    const started = now()
    const startOps = state.counters.operations
    let lastCheckpoint = started
    let count = pageSize
    const malformed = new Set<string>() // the last page's malformed lines, met again in overlaps
    for (;;) {
      let lines: string[]
      try {
        lines = await fetchExportPage(client, count, requestAfter(state), signal)
      } catch (err) {
        // Aborted or the directory kept failing: keep what was applied (the state is consistent
        // between pages); the original error matters more than a failing checkpoint.
        await state.checkpoint().catch(() => {})
        throw err
      }
      const fresh = applyPage(state, lines, apply, malformed)
      if (fresh > 0) state.complete = false
      const t = now()
      const elapsed = (t - started) / 1000
      opts.onProgress?.({
        operations: state.counters.operations,
        dids: state.table.size,
        hosts: state.hosts.length,
        after: state.after,
        rate: elapsed > 0 ? (state.counters.operations - startOps) / elapsed : 0,
      })
      if (fresh === 0 && lines.length < count) break
      // The next request re-reads `boundary`: when that fills a page, ask for the maximum.
      if (fresh > 0) count = state.boundary.length >= pageSize ? MAX_PAGE_SIZE : pageSize
      else if (count < MAX_PAGE_SIZE) count = MAX_PAGE_SIZE
      else {
        state.boundary = [] // over 1000 operations in one millisecond: step past it
        state.counters.tieSkips++
      }
      if (
        signal?.aborted ||
        t - lastCheckpoint >= interval ||
        state.pendingBytes >= MAX_PENDING_BYTES
      ) {
        await state.checkpoint()
        lastCheckpoint = t
        signal?.throwIfAborted()
      }
    }
    const result = await writeOutputs(state, opts.out)
    state.complete = true
    await state.checkpoint()
    return result
  } finally {
    await state.close()
  }
}

/** The `after` to send: 1 ms before the cursor while its millisecond's CIDs are remembered. */
function requestAfter(state: PlcHostsState): string | null {
  if (state.after === null) return null
  if (state.boundary.length === 0) return state.after
  return new Date(Date.parse(state.after) - 1).toISOString()
}

/**
 * Applies the operations of one page not applied before; returns how many. Malformed lines are
 * counted unless `malformed` (replaced by this page's) shows the previous page had them: a line
 * without a usable createdAt cannot be placed, so an overlap may serve it twice.
 */
function applyPage(
  state: PlcHostsState,
  lines: string[],
  apply: (e: ExportEntry) => void,
  malformed: Set<string>,
): number {
  const afterMs = state.after === null ? Number.NEGATIVE_INFINITY : Date.parse(state.after)
  const seen = new Set(state.boundary)
  const previous = new Set(malformed)
  malformed.clear()
  let fresh = 0
  let maxMs = afterMs
  for (const line of lines) {
    const entry = parseExportLine(line)
    if (entry === null) {
      if (!previous.has(line)) state.counters.malformed++
      malformed.add(line)
      continue
    }
    const ms = entry.createdAtMs
    if (ms < afterMs || (ms === afterMs && seen.has(entry.cid))) continue
    fresh++
    state.counters.operations++
    apply(entry)
    if (ms > maxMs) {
      maxMs = ms
      state.after = entry.createdAt
      state.boundary = [entry.cid]
    } else if (ms === maxMs) {
      state.boundary.push(entry.cid)
    }
  }
  return fresh
}

/** Returns a function that records one operation's effect on its DID. */
function applier(state: PlcHostsState): (entry: ExportEntry) => void {
  const key = newDidKey()
  const endpoints = new Map<string, number>() // raw endpoint → value; bounded, then uncached
  const valueFor = (endpoint: string): number => {
    const cached = endpoints.get(endpoint)
    if (cached !== undefined) return cached
    const host = crawlableHost(endpoint)
    const value = host === null ? REFUSED : state.hostIndex(host)
    if (endpoints.size < ENDPOINT_CACHE_LIMIT) endpoints.set(endpoint, value)
    return value
  }
  return (entry) => {
    if (entry.nullified || entry.claim.kind === 'unknown') return
    if (!encodeDid(entry.did, key)) return
    state.setDid(key, entry.claim.kind === 'none' ? NO_PDS : valueFor(entry.claim.endpoint))
  }
}

/** The bare hostname requestCrawl would take for a PDS endpoint, or null. */
export function crawlableHost(endpoint: string): string | null {
  const normalized = normalizePdsEndpoint(endpoint)
  if (normalized === null || !normalized.startsWith('https://')) return null
  try {
    return normalizeHostname(normalized, { allowInsecure: false }).hostname
  } catch (err) {
    if (err instanceof InvalidHostnameError) return null
    throw err
  }
}

/** Counts DIDs per host and writes hosts.txt and hosts.counts.tsv (each atomically). */
async function writeOutputs(state: PlcHostsState, out: string): Promise<PlcHostsResult> {
  const counts = new Float64Array(state.hosts.length)
  let refused = 0
  let noPds = 0
  let dids = 0
  state.table.forEachValue((v) => {
    if (v === NO_PDS) noPds++
    else if (v === REFUSED) refused++
    else {
      counts[v]!++
      dids++
    }
  })
  const rows: { host: string; count: number }[] = []
  state.hosts.forEach((host, i) => {
    if (counts[i]! > 0) rows.push({ host, count: counts[i]! })
  })
  rows.sort((a, b) => b.count - a.count || (a.host < b.host ? -1 : a.host > b.host ? 1 : 0))
  await writeFileAtomic(out, rows.map((r) => `${r.host}\n`).join(''))
  await writeFileAtomic(countsPathFor(out), rows.map((r) => `${r.count}\t${r.host}\n`).join(''))
  return {
    hosts: rows.length,
    dids,
    operations: state.counters.operations,
    refused,
    noPds,
    malformedLines: state.counters.malformed,
    tieSkips: state.counters.tieSkips,
  }
}

/** `hosts.txt` → `hosts.counts.tsv`; any other name gets `.counts.tsv` appended. */
export function countsPathFor(out: string): string {
  return out.endsWith('.txt') ? `${out.slice(0, -4)}.counts.tsv` : `${out}.counts.tsv`
}
