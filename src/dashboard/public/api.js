// The dashboard's only way to the relay: the admin API over HTTP with `Authorization: Bearer`
// and the key kept in sessionStorage (gone when the tab closes). Errors carry the API's
// `error`/`message` so pages can show what went wrong.

const KEY_NAME = 'relay-admin-key'

export class ApiError extends Error {
  constructor(status, error, message) {
    super(message || error || `HTTP ${status}`)
    this.name = 'ApiError'
    this.status = status
    this.error = error
  }
}

export function storedKey() {
  return sessionStorage.getItem(KEY_NAME)
}

export function storeKey(key) {
  if (key) sessionStorage.setItem(KEY_NAME, key)
  else sessionStorage.removeItem(KEY_NAME)
}

/** Calls an admin route: `query` as URL parameters, `body` as JSON. Resolves to parsed JSON. */
export async function api(method, path, opts = {}) {
  const key = opts.key ?? storedKey()
  const url = new URL(path, location.origin)
  for (const [k, v] of Object.entries(opts.query ?? {})) {
    if (v !== undefined && v !== null && v !== '') url.searchParams.set(k, String(v))
  }
  const headers = { authorization: `Bearer ${key ?? ''}` }
  let body
  if (opts.body !== undefined) {
    headers['content-type'] = 'application/json'
    body = JSON.stringify(opts.body)
  }
  const res = await fetch(url, { method, headers, body, signal: opts.signal })
  const text = await res.text()
  let json = null
  try {
    json = text === '' ? null : JSON.parse(text)
  } catch {
    json = null
  }
  if (!res.ok) throw new ApiError(res.status, json?.error, json?.message ?? text.slice(0, 200))
  return json
}
