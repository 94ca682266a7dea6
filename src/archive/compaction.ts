// Compaction of the mirror (`POST /admin/repo/compactAll`, or one repo): for each repo, the
// blocks its current tree no longer reaches are deleted (mirror.ts `compact`), then the archive
// gives the freed space back (archive-db.ts `reclaim`). Commits already delete what they
// supersede, so a compaction mostly reclaims space; it also sweeps up blocks a failure or an older
// version left behind. It runs in the background, one repo at a time, between the mirror's
// other writes: ingest is never blocked for longer than one repo's sweep. Served repos are
// unchanged by it (only unreachable blocks are touched). One compaction at a time.
// Deliberately not here: what a repo's tree is (mirror.ts), HTTP (admin/).
import type { ArchiveDatabase } from './archive-db.ts'
import type { Mirror } from './mirror.ts'

export const COMPACTION_STATUSES = ['idle', 'running', 'done', 'failed'] as const
export type CompactionStatus = (typeof COMPACTION_STATUSES)[number]

export interface CompactionProgress {
  readonly status: CompactionStatus
  readonly reposDone: number
  readonly blocksRemoved: number
  /** Archive size when the run started and when it ended (bytes). */
  readonly bytesBefore: number | null
  readonly bytesAfter: number | null
  readonly startedAt: string | null
  readonly finishedAt: string | null
  readonly lastError: string | null
}

export class Compactor {
  readonly #mirror: Pick<Mirror, 'head' | 'compact'>
  readonly #adb: ArchiveDatabase
  readonly #dids: (after: string | null, limit: number) => Promise<string[]>
  readonly #now: () => number
  readonly #log: { info(obj: object, msg: string): void; error(obj: object, msg: string): void }
  #progress: CompactionProgress = {
    status: 'idle',
    reposDone: 0,
    blocksRemoved: 0,
    bytesBefore: null,
    bytesAfter: null,
    startedAt: null,
    finishedAt: null,
    lastError: null,
  }
  #run: Promise<void> | undefined
  #stopping = false

  constructor(p: {
    /** Whoever compacts a repo between its writes (the mirror, or the account's shard). */
    mirror: Pick<Mirror, 'head' | 'compact'>
    adb: ArchiveDatabase
    dids: (after: string | null, limit: number) => Promise<string[]>
    now: () => number
    logger: { info(obj: object, msg: string): void; error(obj: object, msg: string): void }
  }) {
    this.#mirror = p.mirror
    this.#adb = p.adb
    this.#dids = p.dids
    this.#now = p.now
    this.#log = p.logger
  }

  get progress(): CompactionProgress {
    return this.#progress
  }

  /** Starts compacting every repo (or answers the running compaction's progress). */
  startAll(): CompactionProgress {
    if (this.#progress.status === 'running') return this.#progress
    this.#progress = {
      status: 'running',
      reposDone: 0,
      blocksRemoved: 0,
      bytesBefore: null,
      bytesAfter: null,
      startedAt: this.#iso(),
      finishedAt: null,
      lastError: null,
    }
    this.#run = this.#all().catch((err: unknown) => {
      this.#progress = {
        ...this.#progress,
        status: 'failed',
        finishedAt: this.#iso(),
        lastError: String(err),
      }
      this.#log.error({ err }, 'compaction failed')
    })
    return this.#progress
  }

  /** Compacts one repo now; undefined when it is not mirrored. */
  async compactOne(did: string): Promise<{ removed: number; kept: number } | undefined> {
    if (!(await this.#mirror.head(did))) return undefined
    const out = await this.#mirror.compact(did)
    // On PostgreSQL a VACUUM would cover every partition for one repo's few blocks: its
    // autovacuum makes that space reusable. SQLite's incremental vacuum only frees pages.
    if (this.#adb.dialect === 'sqlite') await this.#adb.reclaim()
    return out
  }

  /** Stops between repos; resolves when the running compaction has stopped. */
  async stop(): Promise<void> {
    this.#stopping = true
    await this.#run
  }

  async #all(): Promise<void> {
    const before = await this.#adb.storageBytes()
    this.#progress = { ...this.#progress, bytesBefore: before.total }
    this.#log.info({ bytes: before.total }, 'compaction started')
    let after: string | null = null
    for (;;) {
      const page = await this.#dids(after, 500)
      for (const did of page) {
        if (this.#stopping) {
          this.#progress = {
            ...this.#progress,
            status: 'failed',
            finishedAt: this.#iso(),
            lastError: 'stopped before the end (the relay was stopping)',
          }
          return
        }
        const { removed } = await this.#mirror.compact(did)
        this.#progress = {
          ...this.#progress,
          reposDone: this.#progress.reposDone + 1,
          blocksRemoved: this.#progress.blocksRemoved + removed,
        }
      }
      if (page.length < 500) break
      after = page.at(-1)!
    }
    await this.#adb.reclaim()
    const end = await this.#adb.storageBytes()
    this.#progress = {
      ...this.#progress,
      status: 'done',
      bytesAfter: end.total,
      finishedAt: this.#iso(),
    }
    this.#log.info(this.#progress, 'compaction done')
  }

  #iso(): string {
    return new Date(this.#now()).toISOString()
  }
}
