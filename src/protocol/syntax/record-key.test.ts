import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { InvalidSyntaxError } from './errors.ts'
import { caseLabel, fixtureCases } from './interop-fixtures.ts'
import { assertRecordKey, isValidRecordKey } from './record-key.ts'

describe('record key syntax (interop fixtures)', () => {
  it('accepts every valid case', () => {
    for (const c of fixtureCases('recordkey', 'valid')) {
      assert.equal(isValidRecordKey(c.value), true, caseLabel(c))
      assert.doesNotThrow(() => assertRecordKey(c.value), caseLabel(c))
    }
  })
  it('rejects every invalid case', () => {
    for (const c of fixtureCases('recordkey', 'invalid')) {
      assert.equal(isValidRecordKey(c.value), false, caseLabel(c))
      assert.throws(() => assertRecordKey(c.value), InvalidSyntaxError, caseLabel(c))
    }
  })
  it('rejects the empty key and accepts dotted keys other than . and ..', () => {
    assert.equal(isValidRecordKey(''), false)
    assert.equal(isValidRecordKey('.a'), true)
    assert.equal(isValidRecordKey('a.'), true)
    assert.equal(isValidRecordKey('3jzfcijpj2z2a'), true)
  })
})
