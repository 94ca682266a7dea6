// The event-log directory lock across processes: a live holder is refused (and named), and a
// holder killed with SIGKILL releases it at once, without waiting to be reaped, so a supervisor
// can restart the relay right away.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { describe, it } from 'node:test'
import { acquireDirLock } from './dir-lock.ts'
import { EventLogLockedError } from './errors.ts'
import { tempDir } from './testing.ts'

const HOLDER = `
  const { acquireDirLock } = await import(${JSON.stringify(new URL('./dir-lock.ts', import.meta.url).href)})
  await acquireDirLock(process.argv[1])
  process.stdout.write('locked\\n')
  setInterval(() => {}, 60_000)
`

/** A child process that takes the lock on `dir` and holds it until killed. */
async function holder(dir: string) {
  const child = spawn(process.execPath, ['--input-type=module', '-e', HOLDER, dir], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const [chunk] = (await once(child.stdout, 'data')) as [Buffer]
  assert.equal(chunk.toString().trim(), 'locked')
  return child
}

describe('event-log directory lock', () => {
  it('refuses a second holder while the first lives, naming its pid', async () => {
    await using dir = await tempDir()
    const child = await holder(dir.path)
    try {
      await assert.rejects(acquireDirLock(dir.path, { waitMs: 100 }), (e) => {
        assert.ok(e instanceof EventLogLockedError)
        assert.equal(e.pid, child.pid)
        assert.match(e.message, new RegExp(`process ${child.pid}`))
        return true
      })
    } finally {
      child.kill('SIGKILL')
      await once(child, 'exit')
    }
  })

  it('is free at once after its holder is killed, before the holder is reaped', async () => {
    await using dir = await tempDir()
    const child = await holder(dir.path)
    const exited = once(child, 'exit')
    child.kill('SIGKILL')
    // No wait for 'exit': the dead process may not be reaped yet, and the lock must not care.
    const lock = await acquireDirLock(dir.path)
    await lock.release()
    await exited
  })

  it('can be taken again by the same process after release', async () => {
    await using dir = await tempDir()
    const first = await acquireDirLock(dir.path)
    await assert.rejects(acquireDirLock(dir.path, { waitMs: 50 }), EventLogLockedError)
    await first.release()
    const second = await acquireDirLock(dir.path, { waitMs: 0 })
    await second.release()
  })
})
