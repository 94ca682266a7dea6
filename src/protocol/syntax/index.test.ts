import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import * as syntax from './index.ts'

// Each validator paired with its asserting twin: on any string, the validator must not throw and
// the assert must throw an InvalidSyntaxError of the right kind exactly when the validator says no.
const pairs: Array<[syntax.SyntaxKind, (s: string) => boolean, (s: string) => unknown]> = [
  ['did', syntax.isValidDid, syntax.assertDid],
  ['handle', syntax.isValidHandle, syntax.assertHandle],
  ['nsid', syntax.isValidNsid, syntax.assertNsid],
  ['record-key', syntax.isValidRecordKey, syntax.assertRecordKey],
  ['datetime', syntax.isValidDatetime, syntax.assertDatetime],
  ['tid', syntax.isValidTid, syntax.assertTid],
  ['repo-path', syntax.isValidRepoPath, syntax.parseRepoPath],
  ['cid', syntax.isValidCidString, syntax.assertCidString],
]

function agrees(kind: string, valid: (s: string) => boolean, check: (s: string) => unknown) {
  return (s: string): boolean => {
    const ok = valid(s)
    try {
      check(s)
      return ok
    } catch (err) {
      return !ok && err instanceof syntax.InvalidSyntaxError && err.kind === kind && err.value === s
    }
  }
}

describe('validators and asserts agree on arbitrary input', () => {
  const identifierish = fc.stringMatching(/^[a-zA-Z0-9.:/_~%+=#@ -]{0,40}$/)
  for (const [kind, valid, check] of pairs) {
    it(kind, () => {
      fc.assert(
        fc.property(fc.string({ unit: 'binary', maxLength: 40 }), agrees(kind, valid, check)),
      )
      fc.assert(fc.property(identifierish, agrees(kind, valid, check)), { numRuns: 2000 })
    })
  }
})

describe('TID properties', () => {
  it('createTid / parseTid round-trip and order matches numeric order', () => {
    const ts = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER })
    const clock = fc.integer({ min: 0, max: 1023 })
    fc.assert(
      fc.property(ts, clock, ts, clock, (t1, c1, t2, c2) => {
        const a = syntax.createTid(t1, c1)
        const b = syntax.createTid(t2, c2)
        assert.deepEqual(syntax.parseTid(a), { timestampMicros: t1, clockId: c1 })
        const expected = t1 !== t2 ? Math.sign(t1 - t2) : Math.sign(c1 - c2)
        return syntax.compareTid(a, b) === expected
      }),
      { numRuns: 5000 },
    )
  })
})
