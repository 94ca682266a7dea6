import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { assertDid, didMethod, didProblem, didWebHost, isValidDid, isValidDidPlc } from './did.ts'
import { InvalidSyntaxError } from './errors.ts'
import { caseLabel, fixtureCases } from './interop-fixtures.ts'

describe('DID syntax (interop fixtures)', () => {
  it('accepts every valid case', () => {
    for (const c of fixtureCases('did', 'valid')) {
      assert.equal(isValidDid(c.value), true, caseLabel(c))
      assert.doesNotThrow(() => assertDid(c.value), caseLabel(c))
    }
  })
  it('rejects every invalid case', () => {
    for (const c of fixtureCases('did', 'invalid')) {
      assert.equal(isValidDid(c.value), false, caseLabel(c))
      assert.throws(() => assertDid(c.value), InvalidSyntaxError, caseLabel(c))
    }
  })
})

describe('DID regex and hand-written rules agree', () => {
  it('on DID-shaped random strings', () => {
    const piece = fc.constantFrom(
      'did',
      ':',
      'plc',
      'web',
      'a',
      'Z',
      '9',
      '.',
      '_',
      '-',
      '%',
      '/',
      ' ',
      'é',
    )
    const didLike = fc.array(piece, { maxLength: 12 }).map((parts) => parts.join(''))
    fc.assert(
      fc.property(didLike, (s) => isValidDid(s) === (didProblem(s) === undefined)),
      { numRuns: 20_000 },
    )
  })
  it('on every fixture line', () => {
    for (const c of [...fixtureCases('did', 'valid'), ...fixtureCases('did', 'invalid')]) {
      assert.equal(isValidDid(c.value), didProblem(c.value) === undefined, caseLabel(c))
    }
  })
})

describe('DID helpers', () => {
  it('enforces the 2048-character limit', () => {
    const base = 'did:web:'
    assert.equal(isValidDid(base + 'a'.repeat(2048 - base.length)), true)
    assert.equal(isValidDid(base + 'a'.repeat(2049 - base.length)), false)
  })

  it('reports kind and value on failure', () => {
    assert.throws(
      () => assertDid('DID:plc:x'),
      (err) => err instanceof InvalidSyntaxError && err.kind === 'did' && err.value === 'DID:plc:x',
    )
  })

  it('extracts the method', () => {
    assert.equal(didMethod('did:plc:7iza6de2dwap2sbkpav7c6c6'), 'plc')
    assert.equal(didMethod('did:web:example.com'), 'web')
    assert.equal(didMethod('did:key:zQ3sh'), 'key')
    assert.throws(() => didMethod('did:web'), InvalidSyntaxError)
  })

  it('recognises did:plc shape', () => {
    assert.equal(isValidDidPlc('did:plc:7iza6de2dwap2sbkpav7c6c6'), true)
    assert.equal(isValidDidPlc('did:plc:ewvi7nxzyoun6zhxrhs64oiz'), true)
    assert.equal(isValidDidPlc('did:plc:7iza6de2dwap2sbkpav7c6c'), false, '23 chars')
    assert.equal(isValidDidPlc('did:plc:7iza6de2dwap2sbkpav7c6c6a'), false, '25 chars')
    assert.equal(isValidDidPlc('did:plc:7iza6de2dwap2sbkpav7c6c1'), false, 'digit 1')
    assert.equal(isValidDidPlc('did:plc:7iza6de2dwap2sbkpav7c6C6'), false, 'uppercase')
    assert.equal(isValidDidPlc('did:web:7iza6de2dwap2sbkpav7c6c6'), false, 'method')
  })

  it('decodes did:web hosts', () => {
    assert.equal(didWebHost('did:web:example.com'), 'example.com')
    assert.equal(didWebHost('did:web:Example.COM'), 'example.com')
    assert.equal(didWebHost('did:web:localhost%3A1234'), 'localhost:1234')
    assert.equal(didWebHost('did:web:localhost%3a2583'), 'localhost:2583')
    assert.equal(didWebHost('did:web:pds.example.com%3A443'), 'pds.example.com:443')
  })

  it('rejects did:web forms atproto does not support', () => {
    const bad = [
      'did:plc:7iza6de2dwap2sbkpav7c6c6',
      'did:web:example.com:user:alice',
      'did:web:example.com%2Fpath',
      'did:web:localhost%3A',
      'did:web:localhost%3A0',
      'did:web:localhost%3A65536',
      'did:web:localhost%3A12a',
      'did:web:-bad.example',
      'did:web:bad-.example',
      'did:web:a..b',
      'did:web:a_b.example',
      'did:web',
    ]
    for (const did of bad) assert.throws(() => didWebHost(did), InvalidSyntaxError, did)
  })
})
