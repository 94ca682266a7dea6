// Names fanout puts on the wire and the one error class it throws.
// Error frames (op -1) sent to consumers before their socket is closed:
//   FutureCursor      (Lexicon) cursor greater than the last written seq
//   ConsumerTooSlow   (Lexicon) the consumer's send buffer went over its bound
//   TooManyConsumers  (ours)    the relay-wide or per-address consumer limit is reached
// and the `#info` message name OutdatedCursor (cursor older than the retained window).
// Deliberately not here: mapping to XRPC HTTP errors (api/ owns that; these happen after upgrade).

export const FUTURE_CURSOR = 'FutureCursor'
export const CONSUMER_TOO_SLOW = 'ConsumerTooSlow'
export const TOO_MANY_CONSUMERS = 'TooManyConsumers'
export const OUTDATED_CURSOR = 'OutdatedCursor'

/** WebSocket close codes fanout uses. */
export const CLOSE_GOING_AWAY = 1001
export const CLOSE_POLICY = 1008
export const CLOSE_INTERNAL = 1011

export type FanoutErrorCode = 'invalid-cursor' | 'invalid-options'

export class FanoutError extends Error {
  readonly code: FanoutErrorCode
  constructor(code: FanoutErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'FanoutError'
    this.code = code
  }
}
