// Reading a PLC directory's export (`GET {plc}/export?count=N&after=<createdAt>`): one page of
// newline-delimited JSON operations in createdAt order (ties by CID), each line
// `{did, operation, cid, nullified, createdAt}` (newer directories add `seq`, unused here).
// Fetching retries 429, 5xx, timeouts and network errors with exponential backoff and jitter,
// honouring `Retry-After` (seconds or an HTTP date, capped), a bounded number of times; other
// statuses fail at once. Every request has a time limit, a body size cap and a User-Agent.
// Parsing turns a line into what the operation says about the DID's PDS: the endpoint of a
// `plc_operation`'s `services.atproto_pds` (type AtprotoPersonalDataServer, as the relay's own
// resolver reads it), the `service` of a legacy `create`, none (tombstone, or no such service).
// Deliberately not here: cursors, deduplication and which operation wins (plc-hosts.ts), hostname
// policy, and verifying operation signatures (the directory is trusted for a host list).

import { setTimeout as sleepFor } from 'node:timers/promises'

export type PlcExportErrorCode =
  | 'http-status' // a status that retrying will not fix (4xx other than 429)
  | 'retries-exhausted' // every attempt failed with a retryable error; `cause` is the last
  | 'too-large' // a page body over maxPageBytes

export class PlcExportError extends Error {
  override readonly name = 'PlcExportError'
  readonly code: PlcExportErrorCode
  readonly status: number | undefined

  constructor(code: PlcExportErrorCode, message: string, status?: number, cause?: unknown) {
    super(message, { cause })
    this.code = code
    this.status = status
  }
}

export interface PlcExportClientOptions {
  readonly plcUrl: string
  readonly userAgent: string
  readonly fetch?: typeof fetch
  /** Per request, headers and body: default 60 s. */
  readonly timeoutMs?: number
  /** Attempts per page, the first included: default 8. */
  readonly maxAttempts?: number
  /** First backoff delay: default 1 s, doubling, with jitter, up to maxDelayMs (default 60 s). */
  readonly baseDelayMs?: number
  readonly maxDelayMs?: number
  /** Longest Retry-After honoured: default 10 min (a longer one is cut to this). */
  readonly maxRetryAfterMs?: number
  /** Default 32 MiB (a full page of 1000 operations is ~0.5–1 MB). */
  readonly maxPageBytes?: number
  /** Injected for tests; default node:timers/promises setTimeout. */
  readonly sleep?: (ms: number, signal: AbortSignal | undefined) => Promise<void>
  /** Told about each failed attempt that will be retried, and the delay before the next. */
  readonly onRetry?: (info: { attempt: number; delayMs: number; error: unknown }) => void
}

class RetryableError extends Error {
  readonly retryAfterMs: number | undefined
  constructor(message: string, retryAfterMs?: number, cause?: unknown) {
    super(message, { cause })
    this.retryAfterMs = retryAfterMs
  }
}

/** The export URL for one page; `after` goes verbatim (an ISO datetime) when not null. */
export function exportPageUrl(plcUrl: string, count: number, after: string | null): string {
  const url = new URL('export', plcUrl.endsWith('/') ? plcUrl : `${plcUrl}/`)
  url.searchParams.set('count', String(count))
  if (after !== null) url.searchParams.set('after', after)
  return url.href
}

/** Fetches one page and returns its non-empty lines. Throws PlcExportError or the abort reason. */
export async function fetchExportPage(
  opts: PlcExportClientOptions,
  count: number,
  after: string | null,
  signal?: AbortSignal,
): Promise<string[]> {
  const url = exportPageUrl(opts.plcUrl, count, after)
  const maxAttempts = opts.maxAttempts ?? 8
  const base = opts.baseDelayMs ?? 1000
  const maxDelay = opts.maxDelayMs ?? 60_000
  const sleep = opts.sleep ?? ((ms, s) => sleepFor(ms, undefined, { signal: s }))
  for (let attempt = 1; ; attempt++) {
    signal?.throwIfAborted()
    try {
      return await fetchOnce(opts, url, signal)
    } catch (err) {
      if (signal?.aborted) throw signal.reason
      if (!(err instanceof RetryableError)) throw err
      if (attempt >= maxAttempts) {
        throw new PlcExportError(
          'retries-exhausted',
          `PLC export failed after ${attempt} attempts: ${err.message}`,
          undefined,
          err,
        )
      }
      const backoff = Math.min(maxDelay, base * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2)
      const delayMs = Math.round(err.retryAfterMs ?? backoff)
      opts.onRetry?.({ attempt, delayMs, error: err })
      try {
        await sleep(delayMs, signal)
      } catch (sleepErr) {
        throw signal?.aborted ? signal.reason : sleepErr
      }
    }
  }
}

async function fetchOnce(
  opts: PlcExportClientOptions,
  url: string,
  signal: AbortSignal | undefined,
): Promise<string[]> {
  const timeout = AbortSignal.timeout(opts.timeoutMs ?? 60_000)
  const combined = signal === undefined ? timeout : AbortSignal.any([signal, timeout])
  const doFetch = opts.fetch ?? fetch
  let res: Response
  try {
    res = await doFetch(url, {
      headers: { 'user-agent': opts.userAgent, accept: 'application/jsonlines' },
      signal: combined,
    })
  } catch (err) {
    throw new RetryableError(`request failed: ${describe(err)}`, undefined, err)
  }
  if (res.status === 429 || res.status >= 500) {
    await res.body?.cancel().catch(() => {})
    const retryAfter = parseRetryAfter(res.headers.get('retry-after'), Date.now())
    const capped =
      retryAfter === undefined ? undefined : Math.min(retryAfter, opts.maxRetryAfterMs ?? 600_000)
    throw new RetryableError(`HTTP ${res.status}`, capped)
  }
  if (res.status !== 200) {
    const text = await res.text().catch(() => '')
    throw new PlcExportError(
      'http-status',
      `PLC export answered HTTP ${res.status}: ${text.slice(0, 200)}`,
      res.status,
    )
  }
  let body: string
  try {
    body = await readCapped(res, opts.maxPageBytes ?? 32 * 1024 * 1024)
  } catch (err) {
    if (err instanceof PlcExportError) throw err
    throw new RetryableError(`reading the page failed: ${describe(err)}`, undefined, err)
  }
  return body.split('\n').filter((line) => line.trim() !== '')
}

async function readCapped(res: Response, max: number): Promise<string> {
  if (res.body === null) return ''
  const decoder = new TextDecoder()
  let total = 0
  let text = ''
  for await (const chunk of res.body) {
    total += chunk.byteLength
    if (total > max) {
      await res.body.cancel().catch(() => {})
      throw new PlcExportError('too-large', `PLC export page over ${max} bytes`)
    }
    text += decoder.decode(chunk, { stream: true })
  }
  return text + decoder.decode()
}

/** Retry-After as milliseconds from `now`: delta-seconds or an HTTP date; undefined if absent. */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null) return undefined
  const text = value.trim()
  if (/^\d+$/.test(text)) return Number(text) * 1000
  const date = Date.parse(text)
  return Number.isNaN(date) ? undefined : Math.max(0, date - now)
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const cause = err.cause instanceof Error ? ` (${err.cause.message})` : ''
    return `${err.name === 'TimeoutError' ? 'timed out' : err.message}${cause}`
  }
  return String(err)
}

/** What one operation says about its DID's PDS. */
export type PdsClaim =
  | { readonly kind: 'endpoint'; readonly endpoint: string }
  | { readonly kind: 'none' } // a tombstone, or an operation without an atproto_pds service
  | { readonly kind: 'unknown' } // an operation type this code does not know: leaves the DID as is

export interface ExportEntry {
  readonly did: string
  readonly cid: string
  readonly createdAt: string
  /** createdAt in epoch milliseconds. */
  readonly createdAtMs: number
  readonly nullified: boolean
  readonly claim: PdsClaim
}

const NONE: PdsClaim = { kind: 'none' }
const UNKNOWN: PdsClaim = { kind: 'unknown' }
const PDS_SERVICE_TYPE = 'AtprotoPersonalDataServer'

/** Parses one export line; null when it is not JSON or lacks did, cid or a valid createdAt. */
export function parseExportLine(line: string): ExportEntry | null {
  let value: unknown
  try {
    value = JSON.parse(line)
  } catch {
    return null
  }
  if (!isRecord(value)) return null
  const { did, cid, createdAt, nullified, operation } = value
  if (typeof did !== 'string' || typeof cid !== 'string' || typeof createdAt !== 'string') {
    return null
  }
  const createdAtMs = Date.parse(createdAt)
  if (Number.isNaN(createdAtMs)) return null
  return {
    did,
    cid,
    createdAt,
    createdAtMs,
    nullified: nullified === true,
    claim: claimOf(operation),
  }
}

function claimOf(op: unknown): PdsClaim {
  if (!isRecord(op)) return UNKNOWN
  switch (op.type) {
    case 'plc_tombstone':
      return NONE
    case 'create':
      return typeof op.service === 'string' ? { kind: 'endpoint', endpoint: op.service } : NONE
    case 'plc_operation': {
      const pds = isRecord(op.services) ? op.services.atproto_pds : undefined
      if (!isRecord(pds) || pds.type !== PDS_SERVICE_TYPE || typeof pds.endpoint !== 'string') {
        return NONE
      }
      return { kind: 'endpoint', endpoint: pds.endpoint }
    }
    default:
      return UNKNOWN
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}
