import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { InvalidValueError } from './errors.ts'
import {
  formatDuration,
  parseBoolean,
  parseChoice,
  parseDuration,
  parseInteger,
  parseList,
  parseLogLevel,
} from './formats.ts'

const ANY = { minMs: 0, maxMs: Number.MAX_SAFE_INTEGER }

describe('parseDuration', () => {
  test('units, compounds and Go forms, in milliseconds', () => {
    const cases: [string, number][] = [
      ['72h', 72 * 3_600_000],
      ['30m', 1_800_000],
      ['10s', 10_000],
      ['500ms', 500],
      ['1h30m', 5_400_000],
      ['1h30m15s', 5_415_000],
      ['1.5s', 1500],
      ['1.5h', 5_400_000],
      ['.5s', 500],
      ['2500us', 3], // 2.5 ms rounds to the nearest millisecond
      ['1000µs', 1],
      ['1000μs', 1],
      ['5000000ns', 5],
      ['0', 0],
      ['+0', 0],
      ['0s', 0],
      ['+10s', 10_000],
      ['3d', 3 * 86_400_000],
      [' 72h ', 72 * 3_600_000],
    ]
    for (const [text, ms] of cases) assert.equal(parseDuration(text, ANY), ms, text)
  })

  test('refuses what is not a duration, naming the examples', () => {
    for (const text of ['72x', '', 'h', '1h 30m', '1H', 'ten seconds', '1e3s', '--1s', '1..5s']) {
      assert.throws(
        () => parseDuration(text, ANY),
        (error: unknown) =>
          error instanceof InvalidValueError &&
          error.message.includes(JSON.stringify(text)) &&
          error.message.includes('72h'),
        text,
      )
    }
  })

  test('a bare number needs a unit; negatives are refused', () => {
    assert.throws(() => parseDuration('30', ANY), /has no unit/)
    assert.throws(() => parseDuration('-5s', ANY), /negative/)
  })

  test('bounds', () => {
    assert.throws(() => parseDuration('0', { minMs: 1, maxMs: 10 }), /out of range \(1ms to 10ms\)/)
    assert.throws(() => parseDuration('2h', { minMs: 0, maxMs: 3_600_000 }), /out of range/)
    assert.equal(parseDuration('1h', { minMs: 0, maxMs: 3_600_000 }), 3_600_000)
  })

  test('formatDuration writes what parseDuration reads back', () => {
    const cases: [number, string][] = [
      [0, '0s'],
      [500, '500ms'],
      [1500, '1.5s'],
      [10_000, '10s'],
      [5_400_000, '1h30m'],
      [72 * 3_600_000, '72h'],
      [3_661_001, '1h1m1.001s'],
    ]
    for (const [ms, text] of cases) {
      assert.equal(formatDuration(ms), text)
      assert.equal(parseDuration(text, ANY), ms)
    }
  })
})

describe('parseBoolean', () => {
  test('true/false in any case, 1/0, t/f', () => {
    for (const text of ['true', 'TRUE', 'True', '1', 't', 'T', ' true ']) {
      assert.equal(parseBoolean(text), true, text)
    }
    for (const text of ['false', 'FALSE', 'False', '0', 'f', 'F']) {
      assert.equal(parseBoolean(text), false, text)
    }
  })

  test('anything else is refused', () => {
    for (const text of ['yes', 'no', 'on', '', '2', 'truthy']) {
      assert.throws(() => parseBoolean(text), /is not a boolean \(use true or false\)/, text)
    }
  })
})

describe('parseInteger', () => {
  test('decimal, with _ separators, within bounds', () => {
    assert.equal(parseInteger('100', { min: 0 }), 100)
    assert.equal(parseInteger('1_000_000', { min: 0 }), 1_000_000)
    assert.equal(parseInteger(' 7 ', { min: 0 }), 7)
    assert.equal(parseInteger('0', { min: 0 }), 0)
  })

  test('refuses non-integers and out-of-range values', () => {
    for (const text of ['', '1.5', '1e3', '0x10', 'ten', '1__0', '_1', '1_']) {
      assert.throws(() => parseInteger(text, { min: 0 }), /is not a whole number/, text)
    }
    assert.throws(() => parseInteger('-1', { min: 0 }), /out of range \(0 to/)
    assert.throws(() => parseInteger('11', { min: 1, max: 10 }), /out of range \(1 to 10\)/)
    assert.throws(() => parseInteger('9007199254740993', { min: 0 }), /out of range/)
  })
})

describe('lists, choices, log levels', () => {
  test('parseList trims and drops empty items', () => {
    assert.deepEqual(parseList('a, b,,c ,'), ['a', 'b', 'c'])
    assert.deepEqual(parseList(''), [])
    assert.deepEqual(parseList(' , '), [])
  })

  test('parseChoice is case-insensitive and lists the choices when wrong', () => {
    assert.equal(parseChoice('STRICT', ['auto', 'strict'] as const), 'strict')
    assert.throws(
      () => parseChoice('strik', ['auto', 'strict'] as const),
      /is not one of auto, strict/,
    )
  })

  test('parseLogLevel maps our names and Go names', () => {
    const cases: [string, string][] = [
      ['trace', 'trace'],
      ['debug', 'debug'],
      ['DEBUG', 'debug'],
      ['info', 'info'],
      ['INFO', 'info'],
      ['warn', 'warn'],
      ['WARNING', 'warn'],
      ['error', 'error'],
      ['ERROR', 'error'],
      ['dpanic', 'fatal'],
      ['panic', 'fatal'],
      ['fatal', 'fatal'],
      ['silent', 'silent'],
      ['off', 'silent'],
      // go-log's GOLOG_LOG_LEVEL form: the unqualified part is the level
      ['error,relay=debug', 'error'],
      ['relay=debug, warn', 'warn'],
    ]
    for (const [text, level] of cases) assert.equal(parseLogLevel(text), level, text)
    assert.equal(parseLogLevel('relay=debug'), undefined)
  })

  test('parseLogLevel refuses unknown words, including inherited object keys', () => {
    for (const text of ['loud', 'constructor', '__proto__', 'toString', '']) {
      assert.throws(() => parseLogLevel(text), /is not a log level/, text)
    }
  })
})
