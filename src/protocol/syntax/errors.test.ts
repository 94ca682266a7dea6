import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { InvalidSyntaxError } from './errors.ts'

describe('InvalidSyntaxError', () => {
  it('carries kind, value, reason and cause', () => {
    const cause = new Error('inner')
    const err = new InvalidSyntaxError('nsid', 'a.b', 'too short', { cause })
    assert.equal(err.kind, 'nsid')
    assert.equal(err.value, 'a.b')
    assert.equal(err.reason, 'too short')
    assert.equal(err.cause, cause)
    assert.equal(err.name, 'InvalidSyntaxError')
    assert.ok(err instanceof Error)
    assert.match(err.message, /invalid nsid "a\.b": too short/)
  })

  it('truncates long values in the message but keeps the full value', () => {
    const value = 'x'.repeat(5000)
    const err = new InvalidSyntaxError('did', value, 'too long')
    assert.ok(err.message.length < 200, err.message)
    assert.match(err.message, /5000 chars/)
    assert.equal(err.value, value)
  })
})
