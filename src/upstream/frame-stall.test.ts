// FrameStallWatch: bytes of an unfinished data frame waiting past the timeout are a stall;
// pings, pongs and a paused socket are not.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { FrameStallWatch } from './frame-stall.ts'

test('bytes of an unfinished frame waiting past the timeout are a stall', () => {
  const w = new FrameStallWatch(1000)
  w.read(10)
  assert.equal(w.check(0), false, 'first seen')
  w.read(1)
  assert.equal(w.check(999), false)
  assert.equal(w.check(1000), true)
})

test('a frame completing clears the wait; pings and pongs are not frame bytes', () => {
  const w = new FrameStallWatch(1000)
  w.read(10)
  w.check(0)
  w.frame()
  assert.equal(w.check(5000), false, 'whole frame: nothing waits')
  // An idle host answering pings: each pong is 2 bytes of header, no payload.
  for (let t = 0; t < 10_000; t += 500) {
    w.read(2)
    w.control(0)
    assert.equal(w.check(t), false, `idle at ${t}`)
  }
  // A ping from the host with a 4-byte payload.
  w.read(6)
  w.control(4)
  assert.equal(w.check(20_000), false)
})

test('pausing restarts the clock: bytes held while paused are not the host stalling', () => {
  const w = new FrameStallWatch(1000)
  w.read(10)
  w.check(0)
  w.reset()
  assert.equal(w.check(900), false)
  assert.equal(w.check(1800), false)
  assert.equal(w.check(1900), true)
})
