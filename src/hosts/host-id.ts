// Host ids: a host's id is its row id in the host table. The relay's own events (takedowns and
// their reversals, released throttles, confirmed reactivations) carry RELAY_HOST_ID instead of a
// host's: no upstream connection sent them, and no host cursor covers them.
// A vocabulary file: it imports nothing, so every layer may name it.

/** The host id of events the relay makes itself. */
export const RELAY_HOST_ID = 0
