import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  QUICK_FAILURE_MS,
  RESTART_PAUSE_MAX_MS,
  RESTART_PAUSE_MIN_MS,
  RestartPause,
} from './restart-pause.ts'

describe('RestartPause', () => {
  it('replaces a thread that ran a while at once, and one that keeps dying at start later and later', () => {
    let now = 0
    const pause = new RestartPause(() => now)
    pause.started()
    now += QUICK_FAILURE_MS // ran its full second: not a start-up failure
    assert.equal(pause.failed(), 0)

    const pauses: number[] = []
    for (let i = 0; i < 12; i++) {
      pause.started()
      now += 10
      pauses.push(pause.failed())
    }
    assert.deepEqual(pauses.slice(0, 4), [
      RESTART_PAUSE_MIN_MS,
      RESTART_PAUSE_MIN_MS * 2,
      RESTART_PAUSE_MIN_MS * 4,
      RESTART_PAUSE_MIN_MS * 8,
    ])
    assert.equal(pauses.at(-1), RESTART_PAUSE_MAX_MS)

    // One that then runs a while resets the count.
    pause.started()
    now += 5_000
    assert.equal(pause.failed(), 0)
    pause.started()
    assert.equal(pause.failed(), RESTART_PAUSE_MIN_MS)
  })

  it('a thread that said it was up is replaced at once however soon it dies, and resets the count', () => {
    const pause = new RestartPause(() => 0)
    pause.started()
    assert.equal(pause.failed(), RESTART_PAUSE_MIN_MS)
    pause.started()
    pause.up()
    assert.equal(pause.failed(), 0, 'a task crashed it: not a start-up failure')
    pause.started()
    assert.equal(pause.failed(), RESTART_PAUSE_MIN_MS, 'the count began again')
  })

  it('never retries at once when no thread could be created', () => {
    const pause = new RestartPause(() => 0)
    assert.equal(pause.notCreated(), RESTART_PAUSE_MIN_MS)
    assert.equal(pause.notCreated(), RESTART_PAUSE_MIN_MS * 2)
  })
})
