// HTTP request metrics for the relay's API server: a duration histogram by route and status,
// observed when each response finishes (requests whose client went away first are not counted;
// WebSocket upgrades are not HTTP requests here, consumers have their own metrics).
// Cardinality: the route label is one of the paths the caller lists (a path ending in `/*`
// covers everything under it), anything else is `other`; the status is the numeric code.
// Deliberately not here: routing, the server itself (api/ owns both); it only listens to its
// `request` events, so instrumenting takes no change to the server.
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Histogram } from 'prom-client'

/** Route label of requests whose path is not one of the known routes. */
export const OTHER_ROUTE = 'other'

/** Maps a request path (query ignored) to a bounded route label. */
export function routeLabeler(routes: Iterable<string>): (url: string) => string {
  const exact = new Set<string>()
  const prefixes: string[] = []
  for (const r of routes) {
    if (r.endsWith('/*')) prefixes.push(r.slice(0, -1))
    else exact.add(r)
  }
  return (url) => {
    const q = url.indexOf('?')
    const path = q < 0 ? url : url.slice(0, q)
    if (exact.has(path)) return path
    for (const p of prefixes) if (path.startsWith(p)) return `${p}*`
    return OTHER_ROUTE
  }
}

/** What instrumenting needs of a server: its `request` events (a node:http Server has them). */
export interface RequestEmitter {
  prependListener(
    event: 'request',
    listener: (req: IncomingMessage, res: ServerResponse) => void,
  ): unknown
  removeListener(
    event: 'request',
    listener: (req: IncomingMessage, res: ServerResponse) => void,
  ): unknown
}

/**
 * Observes every request of `server` in `histogram` (labels `route`, `status`). Returns a
 * function that stops observing.
 */
export function instrumentRequests(
  server: RequestEmitter,
  histogram: Histogram<'route' | 'status'>,
  routes: Iterable<string>,
): () => void {
  const label = routeLabeler(routes)
  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    const start = process.hrtime.bigint()
    const route = label(req.url ?? '/')
    res.once('finish', () => {
      const seconds = Number(process.hrtime.bigint() - start) / 1e9
      histogram.observe({ route, status: res.statusCode }, seconds)
    })
  }
  server.prependListener('request', listener)
  return () => {
    server.removeListener('request', listener)
  }
}
