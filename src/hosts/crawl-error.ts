// Why a crawl request is refused (docs/design.md §4 item 20). The API maps each kind to its XRPC error
// in one place (api/errors.ts); the message is safe to show the requester.
export type CrawlRefusal =
  | 'invalid-hostname'
  | 'banned'
  | 'disabled'
  | 'rate-limited'
  | 'unreachable'
  | 'known-host' // a start cursor was given for a host the relay already follows

export class CrawlRefusedError extends Error {
  readonly kind: CrawlRefusal
  constructor(kind: CrawlRefusal, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'CrawlRefusedError'
    this.kind = kind
  }
}
