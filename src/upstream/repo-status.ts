// Asks a PDS for an account's status (`com.atproto.sync.getRepoStatus`), for accounts marked
// inactive whose PDS may have reactivated them without announcing it (docs/design.md §4 item 11b).
// Bounded: 5 s timeout, 16 KiB answer; any failure means "cannot tell" (null).
import { readCapped } from '../net/read-capped.ts'

const MAX_ANSWER_BYTES = 16 * 1024

export async function checkRepoStatus(
  pds: string,
  did: string,
  userAgent: string,
): Promise<{ active: boolean; status?: string } | null> {
  const url = new URL('/xrpc/com.atproto.sync.getRepoStatus', pds)
  url.searchParams.set('did', did)
  try {
    const res = await fetch(url, {
      headers: { 'User-Agent': userAgent, Accept: 'application/json' },
      redirect: 'error',
      signal: AbortSignal.timeout(5000),
    })
    if (!res.ok) return null
    // At most 16 KiB: a hostile PDS must not make us buffer an endless answer.
    const bytes = await readCapped(res, MAX_ANSWER_BYTES)
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
