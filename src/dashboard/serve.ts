// Serves the admin dashboard's static files (src/dashboard/public/) under `/dash/`: `/dash`
// redirects to `/dash/`, `/dash/` is index.html, `/dash/<file>` is a file that exists directly in
// public/ (the folder's listing, so no path from the request ever reaches the file
// system: no traversal). Files are small and read per request (no cache to invalidate in dev).
// Deliberately not here: authentication (the pages are public; every data call they make goes to
// the admin API with the key the operator enters) and any server-side rendering.
import { readdirSync, readFileSync } from 'node:fs'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { extname, join } from 'node:path'

const PUBLIC_DIR = join(import.meta.dirname, 'public')

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
}

/** The files that may be served: plain names with a known type. */
function listFiles(dir: string): ReadonlySet<string> {
  return new Set(
    readdirSync(dir).filter((f) => /^[A-Za-z0-9_-][A-Za-z0-9_.-]*$/.test(f) && TYPES[extname(f)]),
  )
}

export type DashboardServer = (req: IncomingMessage, res: ServerResponse) => boolean

/** A handler for unmatched GETs; true when it answered (anything under /dash). */
export function dashboardHandler(dir: string = PUBLIC_DIR): DashboardServer {
  return (req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/'
    if (path !== '/dash' && !path.startsWith('/dash/')) return false
    if (path === '/dash') {
      res.writeHead(301, { Location: '/dash/' }).end()
      return true
    }
    const files = listFiles(dir)
    const name = path === '/dash/' ? 'index.html' : path.slice('/dash/'.length)
    const type = TYPES[extname(name)]
    if (!files.has(name) || !type) {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('not found\n')
      return true
    }
    const body = readFileSync(join(dir, name))
    res.writeHead(200, {
      'Content-Type': type,
      'Content-Length': body.length,
      'Cache-Control': 'no-cache',
      'X-Content-Type-Options': 'nosniff',
      'Content-Security-Policy':
        "default-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'",
    })
    res.end(req.method === 'HEAD' ? undefined : body)
    return true
  }
}

/** The dashboard served from this package's public/ folder. */
export function serveDashboard(req: IncomingMessage, res: ServerResponse): boolean {
  return dashboardHandler()(req, res)
}
