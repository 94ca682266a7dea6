// Asks a PDS for an account's status (`com.atproto.sync.getRepoStatus`), for accounts marked
// inactive whose PDS may have reactivated them without announcing it (DESIGN.md §4 item 11b).
// Bounded: 5 s timeout, 16 KiB answer; any failure means "cannot tell" (null).
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
    if (!res.ok || !res.body) return null
    // Read at most 16 KiB: a hostile PDS must not make us buffer an endless answer.
    const chunks: Uint8Array[] = []
    let size = 0
    for await (const chunk of res.body) {
      size += chunk.length
      if (size > MAX_ANSWER_BYTES) {
        await res.body.cancel().catch(() => {})
        return null
      }
      chunks.push(chunk)
    }
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
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
