// The histograms observed in more than one thread (the main thread, and each account shard):
// their names, help and buckets, and the identity resolver's timing wrapper. Free of prom-client,
// so a shard that only counts (histogram-counts.ts) does not load it.
// Deliberately not here: registering them (metrics.ts), adding the shards' counts
// (summed-histogram.ts).

export const VERIFY_HISTOGRAM = 'relay_verify_duration_seconds'
export const VERIFY_HELP =
  'Time to verify one event: in the worker pool, waiting for a worker included; with account shards, in its shard, a loan to another shard included.'
export const IDENTITY_HISTOGRAM = 'relay_identity_resolution_duration_seconds'
export const IDENTITY_HELP = 'Upstream identity resolutions (PLC directory or did:web), by result.'

/** Seconds: 50 µs to 1 s (a verification takes ~150 µs of CPU, more when queued). */
export const VERIFY_BUCKETS = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
]
/** Seconds: 5 ms to 30 s (a PLC or did:web round trip). */
export const IDENTITY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]
/** What an identity resolver looks like to the timing wrapper. */
export interface TimedResolver<T> {
  resolve(did: string, signal?: AbortSignal): Promise<T>
}

function resultOf(err: unknown): 'not_found' | 'error' {
  return err instanceof Error && err.name === 'DidNotFoundError' ? 'not_found' : 'error'
}

/** `resolver` with each resolution's seconds and result (ok, not_found, error) handed to `observe`. */
export function timedResolver<T>(
  resolver: TimedResolver<T>,
  observe: (seconds: number, result: 'ok' | 'not_found' | 'error') => void,
): TimedResolver<T> {
  return {
    async resolve(did, signal) {
      const start = performance.now()
      try {
        const value = await resolver.resolve(did, signal)
        observe((performance.now() - start) / 1000, 'ok')
        return value
      } catch (err) {
        observe((performance.now() - start) / 1000, resultOf(err))
        throw err
      }
    },
  }
}
