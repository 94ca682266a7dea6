import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { InvalidSyntaxError } from './errors.ts'
import { assertHandle, isDisallowedHandleTld, isValidHandle, normalizeHandle } from './handle.ts'
import { caseLabel, fixtureCases } from './interop-fixtures.ts'

describe('handle syntax (interop fixtures)', () => {
  it('accepts every valid case', () => {
    for (const c of fixtureCases('handle', 'valid')) {
      assert.equal(isValidHandle(c.value), true, caseLabel(c))
      assert.doesNotThrow(() => assertHandle(c.value), caseLabel(c))
    }
  })
  it('rejects every invalid case', () => {
    for (const c of fixtureCases('handle', 'invalid')) {
      assert.equal(isValidHandle(c.value), false, caseLabel(c))
      assert.throws(() => assertHandle(c.value), InvalidSyntaxError, caseLabel(c))
    }
  })
})

describe('handle helpers', () => {
  it('rejects the empty string and single labels', () => {
    assert.equal(isValidHandle(''), false)
    assert.equal(isValidHandle('a'), false)
    assert.equal(isValidHandle('a.b'), true)
  })

  it('normalizes to lowercase', () => {
    assert.equal(normalizeHandle('Alice.Bsky.Social'), 'alice.bsky.social')
    assert.equal(normalizeHandle('XN--LS8H.test'), 'xn--ls8h.test')
  })

  it('flags the disallowed TLDs, case-insensitively', () => {
    for (const tld of [
      'local',
      'arpa',
      'invalid',
      'localhost',
      'internal',
      'example',
      'onion',
      'alt',
    ]) {
      const handle = `laptop.${tld}`
      assert.equal(isValidHandle(handle), true, `${handle} is valid syntax`)
      assert.equal(isDisallowedHandleTld(handle), true, handle)
      assert.equal(isDisallowedHandleTld(handle.toUpperCase()), true, handle.toUpperCase())
    }
    for (const handle of ['john.test', 'alice.bsky.social', 'local.com', 'onion.example.net']) {
      assert.equal(isDisallowedHandleTld(handle), false, handle)
    }
  })
})
