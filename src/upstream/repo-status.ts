// Asks a PDS for an account's status (`com.atproto.sync.getRepoStatus`), for accounts marked
// inactive whose PDS may have reactivated them without announcing it (docs/design.md §4 item 11b).
// The PDS endpoint comes from a DID document, which anyone can write: the request goes only to
// public addresses, pinned to the ones checked (no DNS rebinding), redirects not followed, except
// localhost in development (`allowInsecure`). Bounded: 5 s timeout, 16 KiB answer; any failure,
// refused addresses included, means "cannot tell" (null).
import { checkedLookup } from '../hosts/address.ts'
import { getFromHost } from '../net/host-request.ts'

const MAX_ANSWER_BYTES = 16 * 1024
const TIMEOUT_MS = 5000

export interface RepoStatusOptions {
  readonly userAgent: string
  readonly allowInsecure: boolean
}

export type RepoStatusCheck = (
  pds: string,
  did: string,
) => Promise<{ active: boolean; status?: string } | null>

/** `checkRepoStatus` with this relay's user agent and address rule bound (ingest and admin). */
export function repoStatusChecker(opts: RepoStatusOptions): RepoStatusCheck {
  return (pds, did) => checkRepoStatus(pds, did, opts)
}

export async function checkRepoStatus(
  pds: string,
  did: string,
  opts: RepoStatusOptions,
): Promise<{ active: boolean; status?: string } | null> {
  const signal = AbortSignal.timeout(TIMEOUT_MS)
  try {
    const url = new URL('/xrpc/com.atproto.sync.getRepoStatus', pds)
    if (url.protocol !== 'https:' && !(opts.allowInsecure && url.protocol === 'http:')) return null
    url.searchParams.set('did', did)
    const lookup = await checkedLookup(url, opts.allowInsecure, signal)
    const headers = { 'user-agent': opts.userAgent, accept: 'application/json' }
    const res = await getFromHost(url, headers, signal, lookup)
    if (res.status !== 200) {
      await res.discard()
      return null
    }
    // At most 16 KiB: a hostile PDS must not make us buffer an endless answer.
    const bytes = await res.read(MAX_ANSWER_BYTES)
    if (bytes === null) return null
    const body = JSON.parse(Buffer.from(bytes).toString('utf8')) as {
      active?: unknown
      status?: unknown
    }
    if (typeof body.active !== 'boolean') return null
    return typeof body.status === 'string'
      ? { active: body.active, status: body.status }
      : { active: body.active }
  } catch {
    return null
  }
}
