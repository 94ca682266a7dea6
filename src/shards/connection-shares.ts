// How `--max-db-conn` is shared on PostgreSQL when there are account shards: half for the main
// thread (hosts, cursors, routes, resyncs), the other half split among the shards (each loads
// its accounts' states and writes its checkpoints), and at least 2 connections anywhere, so one
// slow query never blocks a whole thread.

export function connectionShares(
  maxConnections: number,
  shards: number,
): { readonly main: number; readonly perShard: number } {
  return {
    main: Math.max(2, Math.ceil(maxConnections / 2)),
    perShard: Math.max(2, Math.floor(maxConnections / 2 / shards)),
  }
}
