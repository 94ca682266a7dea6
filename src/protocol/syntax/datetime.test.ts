import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { assertDatetime, isValidDatetime } from './datetime.ts'
import { InvalidSyntaxError } from './errors.ts'
import { caseLabel, fixtureCases } from './interop-fixtures.ts'

describe('datetime syntax (interop fixtures)', () => {
  it('accepts every valid case', () => {
    for (const c of fixtureCases('datetime', 'valid')) {
      assert.equal(isValidDatetime(c.value), true, caseLabel(c))
      assert.doesNotThrow(() => assertDatetime(c.value), caseLabel(c))
    }
  })
  it('rejects every invalid case', () => {
    for (const c of fixtureCases('datetime', 'invalid')) {
      assert.equal(isValidDatetime(c.value), false, caseLabel(c))
      assert.throws(() => assertDatetime(c.value), InvalidSyntaxError, caseLabel(c))
    }
  })
})

describe('datetime calendar ranges', () => {
  const cases: Array<[string, boolean]> = [
    ['2024-02-29T00:00:00Z', true],
    ['2023-02-29T00:00:00Z', false],
    ['2000-02-29T00:00:00Z', true],
    ['1900-02-29T00:00:00Z', false],
    ['1985-04-30T00:00:00Z', true],
    ['1985-04-31T00:00:00Z', false],
    ['1985-12-31T23:59:59.999Z', true],
    ['1985-13-01T00:00:00Z', false],
    ['1985-00-01T00:00:00Z', false],
    ['1985-01-00T00:00:00Z', false],
    ['1985-04-12T24:00:00Z', false],
    ['1985-04-12T23:60:00Z', false],
    ['1985-04-12T23:59:60Z', false],
    ['1985-04-12T23:20:50+23:59', true],
    ['1985-04-12T23:20:50+24:00', false],
    ['1985-04-12T23:20:50+05:60', false],
    ['1985-04-12T23:20:50+00:00', true],
    ['1985-04-12T23:20:50-00:00', false],
    ['1985-04-12T23:20:50Z ', false],
    ['1985-04-12T23:20:50ZZ', false],
    ['1985-04-12T23:20:50.Z', false],
    ['1985-04-12T23:20:50+05:00:00', false],
    [`1985-04-12T23:20:50.${'1'.repeat(43)}Z`, true],
    [`1985-04-12T23:20:50.${'1'.repeat(44)}Z`, false],
  ]
  for (const [value, valid] of cases) {
    it(`${valid ? 'accepts' : 'rejects'} ${value}`, () => {
      assert.equal(isValidDatetime(value), valid, value)
    })
  }
})
