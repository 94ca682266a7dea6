// The event log's options with defaults applied and checked once, at open.
// Deliberately not here: anything that touches files.
import type { EventLogOptions, SegmentDamage } from './types.ts'

const DEFAULT_SEGMENT_MAX_BYTES = 256 * 1024 * 1024
const DEFAULT_FLUSH_INTERVAL_MS = 5
const DEFAULT_FSYNC_INTERVAL_MS = 1000

export interface Settings {
  readonly dir: string
  readonly retentionMs: number
  readonly segmentMaxBytes: number
  readonly flushIntervalMs: number
  readonly fsyncIntervalMs: number
  readonly now: () => number
  readonly onListenerError: (error: unknown) => void
  readonly onSegmentDamage: (damage: SegmentDamage) => void
}

/** Applies defaults; throws RangeError for a value the log cannot work with. */
export function settings(opts: EventLogOptions): Settings {
  const {
    dir,
    initialSeq,
    retentionMs,
    segmentMaxBytes = DEFAULT_SEGMENT_MAX_BYTES,
    flushIntervalMs = DEFAULT_FLUSH_INTERVAL_MS,
    fsyncIntervalMs = DEFAULT_FSYNC_INTERVAL_MS,
    now = Date.now,
    onListenerError = rethrowLater,
    onSegmentDamage = () => {},
  } = opts
  if (!Number.isSafeInteger(initialSeq) || initialSeq < 1)
    throw new RangeError(`initialSeq must be an integer >= 1, got ${initialSeq}`)
  if (!(retentionMs >= 0)) throw new RangeError(`retentionMs must be >= 0, got ${retentionMs}`)
  if (!(segmentMaxBytes >= 4096))
    throw new RangeError(`segmentMaxBytes must be >= 4096, got ${segmentMaxBytes}`)
  if (!(flushIntervalMs >= 0) || !(fsyncIntervalMs >= 0))
    throw new RangeError('flushIntervalMs and fsyncIntervalMs must be >= 0')
  return {
    dir,
    retentionMs,
    segmentMaxBytes,
    flushIntervalMs,
    fsyncIntervalMs,
    now,
    onListenerError,
    onSegmentDamage,
  }
}

function rethrowLater(error: unknown): void {
  queueMicrotask(() => {
    throw error
  })
}
