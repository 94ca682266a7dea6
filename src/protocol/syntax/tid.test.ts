import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { InvalidSyntaxError } from './errors.ts'
import { caseLabel, fixtureCases } from './interop-fixtures.ts'
import {
  assertTid,
  compareTid,
  createTid,
  isValidTid,
  parseTid,
  TidClock,
  tidTimestampMs,
} from './tid.ts'

describe('TID syntax (interop fixtures)', () => {
  it('accepts every valid case', () => {
    for (const c of fixtureCases('tid', 'valid')) {
      assert.equal(isValidTid(c.value), true, caseLabel(c))
      assert.doesNotThrow(() => parseTid(c.value), caseLabel(c))
    }
  })
  it('rejects every invalid case', () => {
    for (const c of fixtureCases('tid', 'invalid')) {
      assert.equal(isValidTid(c.value), false, caseLabel(c))
      assert.throws(() => assertTid(c.value), InvalidSyntaxError, caseLabel(c))
      assert.throws(() => parseTid(c.value), InvalidSyntaxError, caseLabel(c))
    }
  })
})

describe('TID values', () => {
  it('decodes known values', () => {
    assert.deepEqual(parseTid('2222222222222'), { timestampMicros: 0, clockId: 0 })
    assert.deepEqual(parseTid('222222222222z'), { timestampMicros: 0, clockId: 31 })
    assert.deepEqual(parseTid('22222222222z2'), { timestampMicros: 0, clockId: 31 * 32 })
    assert.deepEqual(parseTid('2222222222322'), { timestampMicros: 1, clockId: 0 })
    assert.deepEqual(parseTid('bzzzzzzzzzzzz'), {
      timestampMicros: Number.MAX_SAFE_INTEGER,
      clockId: 1023,
    })
  })

  it('round-trips createTid and parseTid', () => {
    const samples: Array<[number, number]> = [
      [0, 0],
      [1, 1],
      [1_700_000_000_000_000, 0],
      [1_700_000_000_123_456, 517],
      [Date.UTC(2023, 0, 1) * 1000, 1023],
      [Number.MAX_SAFE_INTEGER, 1023],
    ]
    let seed = 12345
    for (let i = 0; i < 500; i++) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31
      const ts = Math.floor((seed / 2 ** 31) * 2 ** 52) + i
      samples.push([ts, seed % 1024])
    }
    for (const [timestampMicros, clockId] of samples) {
      const tid = createTid(timestampMicros, clockId)
      const label = `${timestampMicros}/${clockId} -> ${tid}`
      assert.equal(isValidTid(tid), true, label)
      assert.deepEqual(parseTid(tid), { timestampMicros, clockId }, label)
      assert.equal(tidTimestampMs(tid), Math.floor(timestampMicros / 1000), label)
    }
  })

  it('rejects out-of-range inputs to createTid', () => {
    assert.throws(() => createTid(-1, 0), RangeError)
    assert.throws(() => createTid(1.5, 0), RangeError)
    assert.throws(() => createTid(2 ** 53, 0), RangeError)
    assert.throws(() => createTid(0, 1024), RangeError)
    assert.throws(() => createTid(0, -1), RangeError)
  })

  it('decodes the timestamp of a real rev', () => {
    const ms = tidTimestampMs('3jzfcijpj2z2a')
    assert.ok(ms > Date.UTC(2022, 0, 1) && ms < Date.UTC(2024, 0, 1), String(new Date(ms)))
  })
})

describe('compareTid', () => {
  it('agrees with numeric order of (timestamp, clock id)', () => {
    const tids: Array<[string, number, number]> = []
    let seed = 99
    for (let i = 0; i < 300; i++) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31
      const ts = i % 3 === 0 ? 1_700_000_000_000_000 : Math.floor((seed / 2 ** 31) * 2 ** 53)
      const clockId = seed % 1024
      tids.push([createTid(ts, clockId), ts, clockId])
    }
    for (const [a, ta, ca] of tids) {
      for (const [b, tb, cb] of tids.slice(0, 40)) {
        const expected = ta !== tb ? (ta < tb ? -1 : 1) : ca === cb ? 0 : ca < cb ? -1 : 1
        assert.equal(compareTid(a, b), expected, `${a} vs ${b}`)
      }
    }
  })

  it('returns 0 for equal TIDs and orders adjacent ones', () => {
    assert.equal(compareTid('3jzfcijpj2z2a', '3jzfcijpj2z2a'), 0)
    assert.equal(compareTid('3jzfcijpj2z2a', '3jzfcijpj2z2b'), -1)
    assert.equal(compareTid('3jzfcijpj2z27', '3jzfcijpj2z2a'), -1)
    assert.equal(compareTid('a222222222222', '7zzzzzzzzzzzz'), 1)
  })
})

describe('TidClock', () => {
  it('is strictly monotonic when time stands still or goes backwards', () => {
    const times = [1000, 1000, 1000, 999, 500, 2000, 2000, 1999]
    let i = 0
    const clock = new TidClock({ now: () => times[i++ % times.length]!, clockId: 7 })
    let prev = ''
    for (let n = 0; n < 50; n++) {
      const tid = clock.next()
      assert.equal(isValidTid(tid), true, tid)
      assert.equal(parseTid(tid).clockId, 7, tid)
      if (prev !== '') assert.equal(compareTid(prev, tid), -1, `${prev} < ${tid}`)
      prev = tid
    }
  })

  it('uses the injected time when it advances', () => {
    let now = 1_700_000_000_000_000
    const clock = new TidClock({ now: () => now, clockId: 0 })
    assert.deepEqual(parseTid(clock.next()), { timestampMicros: now, clockId: 0 })
    now += 5_000
    assert.deepEqual(parseTid(clock.next()), { timestampMicros: now, clockId: 0 })
  })

  it('defaults to wall-clock time and a valid clock id', () => {
    const clock = new TidClock()
    assert.ok(clock.clockId >= 0 && clock.clockId < 1024)
    const ms = tidTimestampMs(clock.next())
    assert.ok(Math.abs(ms - Date.now()) < 60_000, String(ms))
    const a = clock.next()
    const b = clock.next()
    assert.equal(compareTid(a, b), -1)
  })

  it('rejects a bad clock id', () => {
    assert.throws(() => new TidClock({ clockId: 1024 }), RangeError)
    assert.throws(() => new TidClock({ clockId: 1.5 }), RangeError)
  })
})
