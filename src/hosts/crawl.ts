// Whether a crawl request may add (or wake) a host (docs/design.md §4 item 20): a hostname
// only (no IP, path; ports and plain ws:// only for local development or an operator), not under
// a banned domain nor blocked, public requests only while public crawling is on and within the
// new-hosts-per-day limit, and a `describeServer` probe that proves a PDS answers there (on
// public addresses only). A start cursor is for a new host only: a known one keeps its own.
// Throws CrawlRefusedError with the kind the API maps to its answer.
// Deliberately not here: creating the host or connecting to it (hosts.ts).
import type { HostRow } from '../db/hosts.ts'
import { CrawlRefusedError } from './crawl-error.ts'
import { HostProbeError, InvalidHostnameError, UnsafeAddressError } from './errors.ts'
import { isDomainBanned, normalizeHostname } from './hostname.ts'
import type { Probe } from './probe.ts'

export interface CrawlRequest {
  /** The hostname as asked for. */
  readonly hostname: string
  /** An operator (admin route, host pulls) rather than the public. */
  readonly admin: boolean
  /** Allow `localhost:PORT` and plain ws:// (default: admin, or --allow-insecure-hosts). */
  readonly allowInsecure?: boolean
  /** For a new host: the upstream seq to start after (default: its live head). */
  readonly cursor?: number
}

export interface CrawlContext {
  readonly allowInsecureHosts: boolean
  readonly publicCrawlEnabled: boolean
  readonly newHostsPerDayLimit: number
  readonly bannedDomains: readonly string[]
  readonly known: (hostname: string) => HostRow | undefined
  readonly createdInLastDay: () => Promise<number>
  readonly probe: Probe
}

export interface CrawlAdmission {
  readonly target: { readonly hostname: string; readonly ssl: boolean }
  /** The host's row when the relay knows it already. */
  readonly existing: HostRow | undefined
}

export async function admitCrawl(req: CrawlRequest, ctx: CrawlContext): Promise<CrawlAdmission> {
  const allowInsecure = req.allowInsecure ?? (req.admin || ctx.allowInsecureHosts)
  let target: { hostname: string; ssl: boolean }
  try {
    target = normalizeHostname(req.hostname, { allowInsecure })
  } catch (err) {
    if (err instanceof InvalidHostnameError)
      throw new CrawlRefusedError('invalid-hostname', err.message, { cause: err })
    throw err
  }
  const existing = ctx.known(target.hostname)
  if (isDomainBanned(target.hostname, ctx.bannedDomains) || existing?.status === 'banned')
    throw new CrawlRefusedError('banned', `${target.hostname} is banned from this relay`)
  if (existing && req.cursor !== undefined) {
    throw new CrawlRefusedError(
      'known-host',
      `${target.hostname} is already followed from its own stored cursor; a start cursor applies only to a new host (resetCursor starts it again at its live head)`,
    )
  }
  if (!req.admin && !ctx.publicCrawlEnabled)
    throw new CrawlRefusedError(
      'disabled',
      'this relay does not accept crawl requests from the public',
    )
  if (!existing && !req.admin && (await ctx.createdInLastDay()) >= ctx.newHostsPerDayLimit) {
    throw new CrawlRefusedError(
      'rate-limited',
      'this relay has added its daily limit of new hosts; try again later',
    )
  }
  try {
    await ctx.probe(target, allowInsecure)
  } catch (err) {
    if (err instanceof HostProbeError || err instanceof UnsafeAddressError)
      throw new CrawlRefusedError('unreachable', err.message, { cause: err })
    throw err
  }
  return { target, existing }
}
