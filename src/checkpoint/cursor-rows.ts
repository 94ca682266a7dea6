// The checkpoint's write of host cursors: every host's cursor and the oldest log seq start-up
// recovery must scan from, in one transaction, so a restart never pairs new cursors with an old
// scan-from (which would emit events again) or the reverse (which would skip them).
import type { RelayDatabase } from '../db/database.ts'
import { CURSORS_SCAN_FROM_KEY } from './checkpointer.ts'

export function saveCursorsTo(
  db: RelayDatabase,
): (cursors: ReadonlyMap<number, number | null>, scanFrom: number) => Promise<void> {
  return (cursors, scanFrom) =>
    db.transaction(async (s) => {
      await s.hosts.saveCursors(cursors)
      await s.meta.set(CURSORS_SCAN_FROM_KEY, String(scanFrom))
    })
}
