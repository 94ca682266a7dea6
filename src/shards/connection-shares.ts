// How `--max-db-conn` is shared on PostgreSQL when there are account shards: half for the main
// thread (hosts, cursors, routes, resyncs), the other half split among the shards (each loads
// its accounts' states and writes its checkpoints), and at least 2 connections anywhere, so one
// slow query never blocks a whole thread. The archive's pool (archival mode) is shared the same
// way.
import type { DbConfig } from '../db/dialect.ts'

export function connectionShares(
  maxConnections: number,
  shards: number,
): { readonly main: number; readonly perShard: number } {
  return {
    main: Math.max(2, Math.ceil(maxConnections / 2)),
    perShard: Math.max(2, Math.floor(maxConnections / 2 / shards)),
  }
}

/**
 * A database's config as one side uses it: on PostgreSQL with account shards, the main thread's
 * share of the pool or one shard's; anything else as it is.
 */
export function sharedConfig(config: DbConfig, shards: number, side: 'main' | 'shard'): DbConfig {
  if (config.kind !== 'postgres' || shards === 0) return config
  const shares = connectionShares(config.maxConnections, shards)
  return { ...config, maxConnections: side === 'main' ? shares.main : shares.perShard }
}
