// The upstream subscription URL of a host: `{ws|wss}://{hostname}/xrpc/com.atproto.sync.subscribeRepos`
// with `?cursor=N` when resuming (no cursor: start live).
// Deliberately not here: validating the hostname (hosts/ decides which hosts may be dialled).
import type { HostTarget } from './types.ts'

export function subscribeReposUrl(host: HostTarget, cursor: number | null): string {
  const base = `${host.ssl ? 'wss' : 'ws'}://${host.hostname}/xrpc/com.atproto.sync.subscribeRepos`
  return cursor === null ? base : `${base}?cursor=${cursor}`
}
