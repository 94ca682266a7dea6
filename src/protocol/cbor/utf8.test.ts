import assert from 'node:assert/strict'
import { isUtf8 } from 'node:buffer'
import { test } from 'node:test'
import * as fc from 'fast-check'
import { isValidUtf8, isValidUtf8Js, NATIVE_UTF8_MIN_LENGTH } from './utf8.ts'

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'))

test('known sequences', () => {
  const cases: [string, string, boolean][] = [
    ['empty', '', true],
    ['ascii', '616263', true],
    ['U+0080', 'c280', true],
    ['U+07FF', 'dfbf', true],
    ['U+0800', 'e0a080', true],
    ['U+FFFF', 'efbfbf', true],
    ['U+10000', 'f0908080', true],
    ['U+10FFFF', 'f48fbfbf', true],
    ['U+D7FF', 'ed9fbf', true],
    ['overlong 2-byte', 'c1bf', false],
    ['overlong 3-byte', 'e09fbf', false],
    ['overlong 4-byte', 'f08fbfbf', false],
    ['surrogate U+D800', 'eda080', false],
    ['above U+10FFFF', 'f4908080', false],
    ['lead F5', 'f5808080', false],
    ['lone continuation', '80', false],
    ['missing continuation', 'e282', false],
    ['bad continuation', 'e28241', false],
    ['truncated 4-byte', 'f09f98', false],
  ]
  for (const [name, input, valid] of cases) {
    const bytes = hex(input)
    assert.equal(isValidUtf8Js(bytes, 0, bytes.length), valid, `${name} (js)`)
    assert.equal(isValidUtf8(bytes, 0, bytes.length), valid, `${name}`)
    assert.equal(isUtf8(bytes), valid, `${name} (node agrees)`)
  }
})

test('validates only the given range', () => {
  const bytes = hex('ff 6161 ff')
  assert.equal(isValidUtf8Js(bytes, 1, 3), true)
  assert.equal(isValidUtf8Js(bytes, 0, 3), false)
  // a sequence cut by the range end is invalid even if the buffer continues it
  const euro = hex('e282ac')
  assert.equal(isValidUtf8Js(euro, 0, 2), false)
})

test('agrees with node:buffer isUtf8 on random bytes, both paths', () => {
  const nearUtf8 = fc.array(
    fc.oneof(
      fc.integer({ min: 0, max: 255 }),
      fc.constantFrom(0x80, 0xbf, 0xc2, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0x9f, 0xa0, 0x8f, 0x90),
    ),
    { maxLength: NATIVE_UTF8_MIN_LENGTH * 2 },
  )
  fc.assert(
    fc.property(nearUtf8, (arr) => {
      const bytes = Uint8Array.from(arr)
      const want = isUtf8(bytes)
      assert.equal(isValidUtf8Js(bytes, 0, bytes.length), want)
      assert.equal(isValidUtf8(bytes, 0, bytes.length), want)
    }),
    { numRuns: 20000 },
  )
  fc.assert(
    fc.property(fc.string({ unit: 'binary' }), (s) => {
      const bytes = new TextEncoder().encode(s)
      assert.equal(isValidUtf8Js(bytes, 0, bytes.length), true)
    }),
  )
})
