// XRPC errors and the single place where domain errors become HTTP responses (docs/design.md §2
// "api/"). Anything unexpected is a 500 `InternalServerError` with a generic message: internals
// never reach the client (the caller logs the real error).
import { SnapshotsBusyError } from '../archive/archive-db.ts'
import { CrawlRefusedError } from '../hosts/crawl-error.ts'
import { UnknownHostError } from '../hosts/errors.ts'

export class XrpcError extends Error {
  readonly status: number
  readonly error: string
  constructor(status: number, error: string, message: string) {
    super(message)
    this.name = 'XrpcError'
    this.status = status
    this.error = error
  }
}

export const invalidRequest = (message: string): XrpcError =>
  new XrpcError(400, 'InvalidRequest', message)

/** Maps any thrown value to the XRPC error to send; `internal` is true for unexpected ones. */
export function toXrpcError(err: unknown): { error: XrpcError; internal: boolean } {
  if (err instanceof XrpcError) return { error: err, internal: false }
  if (err instanceof SnapshotsBusyError)
    return { error: new XrpcError(503, 'ServiceUnavailable', err.message), internal: false }
  if (err instanceof UnknownHostError)
    return { error: new XrpcError(404, 'HostNotFound', err.message), internal: false }
  if (err instanceof CrawlRefusedError) {
    switch (err.kind) {
      case 'invalid-hostname':
      case 'known-host':
        return { error: invalidRequest(err.message), internal: false }
      case 'banned':
        return { error: new XrpcError(400, 'HostBanned', err.message), internal: false }
      case 'disabled':
        return { error: new XrpcError(403, 'Forbidden', err.message), internal: false }
      case 'rate-limited':
        return { error: new XrpcError(429, 'RateLimitExceeded', err.message), internal: false }
      case 'unreachable':
        return { error: invalidRequest(err.message), internal: false }
    }
  }
  return {
    error: new XrpcError(500, 'InternalServerError', 'Internal Server Error'),
    internal: true,
  }
}
