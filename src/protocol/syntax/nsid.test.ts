import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { InvalidSyntaxError } from './errors.ts'
import { caseLabel, fixtureCases } from './interop-fixtures.ts'
import { assertNsid, isValidNsid } from './nsid.ts'

describe('NSID syntax (interop fixtures)', () => {
  it('accepts every valid case', () => {
    for (const c of fixtureCases('nsid', 'valid')) {
      assert.equal(isValidNsid(c.value), true, caseLabel(c))
      assert.doesNotThrow(() => assertNsid(c.value), caseLabel(c))
    }
  })
  it('rejects every invalid case', () => {
    for (const c of fixtureCases('nsid', 'invalid')) {
      assert.equal(isValidNsid(c.value), false, caseLabel(c))
      assert.throws(() => assertNsid(c.value), InvalidSyntaxError, caseLabel(c))
    }
  })
})

describe('NSID edge cases', () => {
  it('checks the overall length and the name segment', () => {
    const at317 = `com.${'a.'.repeat(155)}${'b'.repeat(3)}`
    assert.equal(at317.length, 317)
    assert.equal(isValidNsid(at317), true)
    assert.equal(isValidNsid(`${at317}c`), false)
    assert.equal(isValidNsid('app.bsky.feed.post'), true)
    assert.equal(isValidNsid('app.bsky.feed.'), false)
    assert.equal(isValidNsid('app.bsky.feed.9post'), false)
    assert.equal(isValidNsid(''), false)
  })
})
