// The main thread's side of archival mode with account shards (shard-archive-writer.ts is the
// shard's): running a shard's write on the SQLite archive's writer thread, and adding up what
// the shards' mirrors report.
// Deliberately not here: sending the answer back (account-shards.ts), the writes themselves
// (archive/).
import { type MirrorStats, noMirrorStats } from '../archive/mirror.ts'
import type { ArchiveWriter } from '../archive/writer-thread.ts'
import type { ArchiveWriteCall } from './shard-messages.ts'

/** Runs a shard's write on the writer (rejects when there is none: archival mode off, or PostgreSQL). */
export async function runArchiveWrite(
  writer: ArchiveWriter | undefined,
  call: ArchiveWriteCall,
): Promise<unknown> {
  if (!writer) throw new Error('no archive writer on the main thread')
  switch (call[0]) {
    case 'apply':
      return writer.apply(call[1], call[2], call[3], call[4])
    case 'delete':
      return writer.delete(call[1])
    case 'deleteBlocks':
      return writer.deleteBlocks(call[1], call[2])
    default:
      return call satisfies never
  }
}

/** The shards' mirror totals added up (a shard without any counts nothing). */
export function sumMirrorStats(each: readonly (MirrorStats | undefined)[]): MirrorStats {
  const sum = noMirrorStats()
  for (const stats of each) {
    if (!stats) continue
    for (const k of Object.keys(sum) as (keyof MirrorStats)[]) sum[k] += stats[k]
  }
  return sum
}
