// `relay health`: asks the relay this configuration describes for `/xrpc/_health` and exits 0 when
// it answers 200, 1 otherwise (unreachable, 503, or no answer within the timeout). It reads the
// same flags, environment and .env as `relay serve`, so the question goes to the address the
// relay actually binds: a specific address is asked as it is, and a wildcard bind (`:2470`,
// `[::]:2470`) through loopback. Container health checks and supervisors call this instead of
// guessing the port and address.
// Deliberately not here: what health means (the relay's own route decides).
import type { ListenAddress } from '../config/index.ts'

export interface HealthCheckIo {
  readonly fetch: typeof fetch
  readonly stdout: { write(text: string): unknown }
  readonly stderr: { write(text: string): unknown }
  readonly timeoutMs?: number
}

/** The URL that reaches a relay listening on `bind`, from the same machine. */
export function healthUrl(bind: ListenAddress): string {
  const host =
    bind.host === '0.0.0.0'
      ? '127.0.0.1'
      : bind.host === '::'
        ? '[::1]'
        : bind.host.includes(':')
          ? `[${bind.host}]`
          : bind.host
  return `http://${host}:${bind.port}/xrpc/_health`
}

export async function healthCommand(bind: ListenAddress, io: HealthCheckIo): Promise<number> {
  const url = healthUrl(bind)
  try {
    const res = await io.fetch(url, { signal: AbortSignal.timeout(io.timeoutMs ?? 8000) })
    const text = await res.text()
    ;(res.status === 200 ? io.stdout : io.stderr).write(`${text.trim()}\n`)
    return res.status === 200 ? 0 : 1
  } catch (err) {
    const why =
      err instanceof Error
        ? err.cause instanceof Error
          ? err.cause.message
          : err.message
        : String(err)
    io.stderr.write(`relay health: ${url}: ${why}\n`)
    return 1
  }
}
