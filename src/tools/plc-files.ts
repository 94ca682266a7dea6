// Small file helpers for `relay plc-hosts`: an atomic replace (temp file, fsync, rename, fsync of
// the directory) and a lock file naming its owner's pid, taken over when that pid is not running.
// Deliberately not an OS lock (Node has none): a pid reused by an unrelated live process keeps the
// lock until an operator deletes the file, which the error says.
// Deliberately not here: what the files contain.

import { open, readFile, rename, rm } from 'node:fs/promises'
import { dirname } from 'node:path'

/** The lock file is held by a live process (`pid`), or could not be taken over. */
export class LockHeldError extends Error {
  override readonly name = 'LockHeldError'
  readonly path: string
  readonly pid: number | undefined

  constructor(path: string, pid: number | undefined) {
    super(pid === undefined ? `cannot take over ${path}` : `${path} is held by process ${pid}`)
    this.path = path
    this.pid = pid
  }
}

/** Writes `path` by way of a temp file: fsync, rename, then fsync the directory. */
export async function writeFileAtomic(path: string, data: string): Promise<void> {
  const tmp = `${path}.tmp`
  const fh = await open(tmp, 'w')
  try {
    await fh.writeFile(data)
    await fh.sync()
  } finally {
    await fh.close()
  }
  await rename(tmp, path)
  try {
    const dir = await open(dirname(path), 'r')
    await dir.sync().finally(() => dir.close())
  } catch {
    // Some platforms cannot fsync a directory; the rename itself is still atomic.
  }
}

/** Creates `lockPath` for this process; returns the release function. Throws LockHeldError. */
export async function acquireLockFile(lockPath: string): Promise<() => Promise<void>> {
  const token = `${process.pid} ${Math.random().toString(36).slice(2)}\n`
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fh = await open(lockPath, 'wx')
      await fh.writeFile(token).finally(() => fh.close())
      return async () => {
        const current = await readFile(lockPath, 'utf8').catch(() => '')
        if (current === token) await rm(lockPath, { force: true })
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    }
    const owner = Number((await readFile(lockPath, 'utf8').catch(() => '')).split(' ')[0])
    if (Number.isSafeInteger(owner) && owner > 0 && isAlive(owner)) {
      throw new LockHeldError(lockPath, owner)
    }
    await rm(lockPath, { force: true })
  }
  throw new LockHeldError(lockPath, undefined)
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}
