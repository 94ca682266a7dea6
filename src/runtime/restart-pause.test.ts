import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  QUICK_FAILURE_MS,
  RESTART_PAUSE_MAX_MS,
  RESTART_PAUSE_MIN_MS,
  RestartPause,
} from './restart-pause.ts'

/** The pauses alone are checked here: the restart each schedules does nothing (and is unref'd). */
const nothing = (): void => {}

describe('RestartPause', () => {
  it('replaces a thread that ran a while at once, and one that keeps dying at start later and later', () => {
    let now = 0
    const pause = new RestartPause({ now: () => now })
    pause.started()
    now += QUICK_FAILURE_MS // ran its full second: not a start-up failure
    assert.equal(pause.failed(nothing), 0)

    const pauses: number[] = []
    for (let i = 0; i < 12; i++) {
      pause.started()
      now += 10
      pauses.push(pause.failed(nothing))
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
    assert.equal(pause.failed(nothing), 0)
    pause.started()
    assert.equal(pause.failed(nothing), RESTART_PAUSE_MIN_MS)
  })

  it('a thread that said it was up is replaced at once however soon it dies, and resets the count', () => {
    const pause = new RestartPause({ now: () => 0 })
    pause.started()
    assert.equal(pause.failed(nothing), RESTART_PAUSE_MIN_MS)
    pause.started()
    pause.up()
    assert.equal(pause.failed(nothing), 0, 'a task crashed it: not a start-up failure')
    pause.started()
    assert.equal(pause.failed(nothing), RESTART_PAUSE_MIN_MS, 'the count began again')
  })

  it('never retries at once when no thread could be created', () => {
    const pause = new RestartPause({ now: () => 0 })
    assert.equal(pause.notCreated(nothing), RESTART_PAUSE_MIN_MS)
    assert.equal(pause.notCreated(nothing), RESTART_PAUSE_MIN_MS * 2)
  })

  it('with signalsUp, only up() counts: a thread never up is a start-up failure however long it lived', () => {
    let now = 0
    const pause = new RestartPause({ now: () => now, signalsUp: true })
    pause.started()
    now += 10 * QUICK_FAILURE_MS
    assert.equal(pause.failed(nothing), RESTART_PAUSE_MIN_MS)
    pause.started()
    pause.up()
    assert.equal(pause.failed(nothing), 0)
  })

  it('starts the replacement on a timer, never from inside the caller, once; cancel drops it', async () => {
    let started = 0
    const pause = new RestartPause({ now: () => 0 })
    pause.started()
    pause.up()
    assert.equal(
      pause.failed(() => started++),
      0,
    )
    assert.equal(started, 0, 'not synchronously, even with no pause')
    await new Promise((resolve) => setTimeout(resolve, 5))
    assert.equal(started, 1)
    pause.started()
    pause.up()
    pause.failed(() => started++)
    pause.cancel()
    await new Promise((resolve) => setTimeout(resolve, 5))
    assert.equal(started, 1, 'a cancelled restart never starts')
  })
})
