// Parameters of `subscribeRepos` (Lexicon: optional integer `cursor`), checked before the
// WebSocket upgrade so a bad request gets a plain HTTP 400 that says which parameter and why.
// A cursor given more than once is refused too: serving from either value would be a guess about
// where the consumer is, and taking the first made the answer depend on the order of the values.
export type SubscribeParams =
  | { readonly ok: true; readonly cursor: number | undefined }
  | {
      readonly ok: false
      readonly status: number
      readonly error: string
      readonly message: string
    }

export const SUBSCRIBE_PATH = '/xrpc/com.atproto.sync.subscribeRepos'

export function subscribeParams(rawUrl: string): SubscribeParams {
  let url: URL
  try {
    url = new URL(rawUrl, 'http://relay.invalid')
  } catch {
    return { ok: false, status: 400, error: 'InvalidRequest', message: 'malformed request target' }
  }
  if (url.pathname !== SUBSCRIBE_PATH)
    return { ok: false, status: 404, error: 'NotFound', message: 'no such route' }
  const all = url.searchParams.getAll('cursor')
  if (all.length > 1) {
    return {
      ok: false,
      status: 400,
      error: 'InvalidRequest',
      message: 'cursor may be given only once',
    }
  }
  const raw = all[0] ?? null
  if (raw === null || raw === '') return { ok: true, cursor: undefined }
  if (!/^\d{1,16}$/.test(raw) || !Number.isSafeInteger(Number(raw))) {
    return {
      ok: false,
      status: 400,
      error: 'InvalidRequest',
      message: 'cursor must be a non-negative integer',
    }
  }
  return { ok: true, cursor: Number(raw) }
}
