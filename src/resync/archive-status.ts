// What `GET /admin/archive` and the dashboard show of keeping repos right: archival mode's
// archive (repos held, size on disk, space free for reuse), its compaction, and the repair queue
// (both modes). One shape, built by the composition (relay-resync.ts), read by admin/.
import type { CompactionProgress } from '../archive/compaction.ts'
import type { RepairStats } from './repairs.ts'

export interface ArchiveStatus {
  readonly archive:
    | { readonly enabled: false }
    | {
        readonly enabled: true
        readonly repos: number
        /** The archive's size on disk and, of it, the space free for reuse (bytes). */
        readonly storageBytes: number
        readonly freeBytes: number
      }
  readonly compaction: CompactionProgress | null
  readonly repairs: RepairStats
}
