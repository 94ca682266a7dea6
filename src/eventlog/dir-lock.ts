// Keeps two writers off one event-log directory: two processes (or two EventLogs in one process)
// appending to the same segment would interleave records.
// The lock is an exclusive lock on the file `LOCK`, taken through SQLite (an open transaction on
// an empty database in exclusive locking mode, i.e. POSIX advisory record locks). The kernel drops
// such a lock the moment its holder's files are closed, which happens as a killed process exits,
// before it is even reaped: a supervisor that restarts the relay right after `kill -9` gets the
// directory back, while a live holder (another relay, or another EventLog here: SQLite tracks
// locks per file inside one process too) is refused. Node has no flock of its own, and node:sqlite
// is already what the relay's embedded database runs on.
// A holder that is still dying when we look (its files not yet closed) is waited for briefly.
// `LOCK.owner` names the holder's pid for the error message only; it decides nothing.
// The LOCK file itself stays after release: deleting it could let two processes lock two
// different files under the same name.
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { setTimeout as delay } from 'node:timers/promises'
import { EventLogIoError, EventLogLockedError } from './errors.ts'

export interface DirLock {
  release(): Promise<void>
}

export interface DirLockOptions {
  /** How long to wait for a holder that may be exiting (default 3 s). */
  readonly waitMs?: number
}

const RETRY_MS = 50

export async function acquireDirLock(dir: string, opts: DirLockOptions = {}): Promise<DirLock> {
  const path = join(dir, 'LOCK')
  const deadline = Date.now() + (opts.waitMs ?? 3000)
  for (;;) {
    const db = tryLock(path)
    if (db) {
      await writeFile(join(dir, 'LOCK.owner'), `${process.pid}\n`).catch(() => {})
      let released = false
      return {
        release: async () => {
          if (released) return
          released = true
          db.close() // ends the transaction and drops the lock
        },
      }
    }
    if (Date.now() >= deadline) throw new EventLogLockedError(dir, await readOwner(dir))
    await delay(RETRY_MS)
  }
}

/** An open connection holding the exclusive lock, or null when someone else holds it. */
function tryLock(path: string): DatabaseSync | null {
  let db: DatabaseSync
  try {
    db = new DatabaseSync(path, { timeout: 0 })
  } catch (e) {
    throw new EventLogIoError('open', `cannot open ${path}`, e)
  }
  try {
    db.exec('PRAGMA locking_mode = EXCLUSIVE')
    db.exec('BEGIN EXCLUSIVE')
    return db
  } catch (e) {
    db.close()
    if (isBusy(e)) return null
    throw new EventLogIoError('open', `cannot lock ${path}`, e)
  }
}

function isBusy(e: unknown): boolean {
  // SQLITE_BUSY (5) and SQLITE_LOCKED (6), whatever the extended code.
  const code = (e as { errcode?: unknown }).errcode
  return typeof code === 'number' && ((code & 0xff) === 5 || (code & 0xff) === 6)
}

async function readOwner(dir: string): Promise<number> {
  try {
    const pid = Number((await readFile(join(dir, 'LOCK.owner'), 'utf8')).trim())
    return Number.isSafeInteger(pid) && pid > 0 ? pid : 0
  } catch {
    return 0
  }
}
