import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { isCanonicalCompactSignature } from './compact-signature.ts'
import { CURVES } from './curves.ts'

const toBig = (b: Uint8Array): bigint => BigInt(`0x${Buffer.from(b).toString('hex')}`)
const to32 = (n: bigint): Buffer => Buffer.from(n.toString(16).padStart(64, '0'), 'hex')
const sig = (r: bigint, s: bigint): Uint8Array => Buffer.concat([to32(r), to32(s)])

describe('isCanonicalCompactSignature', () => {
  for (const curve of ['k256', 'p256'] as const) {
    const n = toBig(CURVES[curve].order)
    it(`${curve}: half order constant is floor(n / 2)`, () => {
      assert.equal(toBig(CURVES[curve].halfOrder), n / 2n)
    })

    it(`${curve}: boundaries of r and s`, () => {
      const cases: Array<[string, Uint8Array, boolean]> = [
        ['r = 1, s = 1', sig(1n, 1n), true],
        ['r = n - 1, s = n/2', sig(n - 1n, n / 2n), true],
        ['s = n/2 + 1', sig(1n, n / 2n + 1n), false],
        ['s = n - 1', sig(1n, n - 1n), false],
        ['r = 0', sig(0n, 1n), false],
        ['s = 0', sig(1n, 0n), false],
        ['r = n', sig(n, 1n), false],
        ['r = 2^256 - 1', sig(2n ** 256n - 1n, 1n), false],
        ['63 bytes', sig(1n, 1n).subarray(1), false],
        ['65 bytes', Buffer.concat([sig(1n, 1n), Buffer.of(0)]), false],
        ['empty', new Uint8Array(0), false],
      ]
      for (const [what, bytes, expected] of cases) {
        assert.equal(isCanonicalCompactSignature(curve, bytes), expected, `${curve} ${what}`)
      }
    })
  }
})
