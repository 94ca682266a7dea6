// A lock file (`LOCK`) that keeps two writers off one event-log directory: two processes (or two
// EventLogs in one process) appending to the same segment would interleave records.
// The file holds the owner's pid and process start time. It is taken over when stale: the pid is
// not running, or it is this process's own pid with another start time (a restarted container
// where the relay is always pid 1). Deliberately not an OS lock (Node has no flock); a pid that
// was reused by an unrelated live process keeps the lock until an operator deletes the file, which
// the error message says.
import { open, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { EventLogIoError, EventLogLockedError, errnoCode } from './errors.ts'

export interface DirLock {
  release(): Promise<void>
}

const processStart = Math.round(Date.now() - process.uptime() * 1000)

export async function acquireDirLock(dir: string): Promise<DirLock> {
  const path = join(dir, 'LOCK')
  const token = `${process.pid} ${processStart} ${Math.random().toString(36).slice(2)}\n`
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fh = await open(path, 'wx')
      try {
        await fh.writeFile(token)
      } finally {
        await fh.close()
      }
      return { release: () => releaseIfOurs(path, token) }
    } catch (e) {
      if (errnoCode(e) !== 'EEXIST') throw new EventLogIoError('open', `cannot create ${path}`, e)
    }
    const owner = await readOwner(path)
    if (owner !== null && isLive(owner.pid, owner.start))
      throw new EventLogLockedError(dir, owner.pid)
    await rm(path, { force: true })
  }
  throw new EventLogIoError('open', `cannot take over stale ${path}`, undefined)
}

async function readOwner(path: string): Promise<{ pid: number; start: number } | null> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return null
    throw new EventLogIoError('open', `cannot read ${path}`, e)
  }
  const [pid, start] = text.trim().split(/\s+/).map(Number)
  if (!Number.isSafeInteger(pid) || pid! <= 0) return null
  return { pid: pid!, start: start ?? Number.NaN }
}

function isLive(pid: number, start: number): boolean {
  // Start times are rounded milliseconds computed twice; allow a little slack.
  if (pid === process.pid) return Math.abs(start - processStart) < 2000
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return errnoCode(e) === 'EPERM'
  }
}

async function releaseIfOurs(path: string, token: string): Promise<void> {
  try {
    if ((await readFile(path, 'utf8')) === token) await rm(path, { force: true })
  } catch (e) {
    if (errnoCode(e) !== 'ENOENT') throw new EventLogIoError('close', `cannot remove ${path}`, e)
  }
}
