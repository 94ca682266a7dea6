import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { assertCidString, isValidCidString } from './cid-string.ts'
import { InvalidSyntaxError } from './errors.ts'
import { caseLabel, fixtureCases } from './interop-fixtures.ts'

describe('CID string syntax (interop fixtures)', () => {
  it('accepts every valid case', () => {
    for (const c of fixtureCases('cid', 'valid')) {
      assert.equal(isValidCidString(c.value), true, caseLabel(c))
      assert.doesNotThrow(() => assertCidString(c.value), caseLabel(c))
    }
  })
  it('rejects every invalid case', () => {
    for (const c of fixtureCases('cid', 'invalid')) {
      assert.equal(isValidCidString(c.value), false, caseLabel(c))
      assert.throws(() => assertCidString(c.value), InvalidSyntaxError, caseLabel(c))
    }
  })
  it('enforces length bounds', () => {
    assert.equal(isValidCidString('b'.repeat(7)), false)
    assert.equal(isValidCidString('b'.repeat(8)), true)
    assert.equal(isValidCidString('b'.repeat(256)), true)
    assert.equal(isValidCidString('b'.repeat(257)), false)
  })
})
