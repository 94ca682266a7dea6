import assert from 'node:assert/strict'
import { generateKeyPairSync, sign } from 'node:crypto'
import { describe, it } from 'node:test'
import { compactToDer } from './node-ecdsa.ts'

/** The test's own reading of a DER ECDSA signature back into 64-byte r||s. */
function derToCompact(der: Uint8Array): Uint8Array {
  assert.equal(der[0], 0x30)
  assert.equal(der[1], der.length - 2)
  const out = new Uint8Array(64)
  let at = 2
  for (const half of [0, 32]) {
    assert.equal(der[at], 0x02)
    const len = der[at + 1]!
    let int = der.subarray(at + 2, at + 2 + len)
    if (int.length > 32) int = int.subarray(int.length - 32)
    out.set(int, half + 32 - int.length)
    at += 2 + len
  }
  assert.equal(at, der.length)
  return out
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

describe('compactToDer', () => {
  it('gives exactly the DER that OpenSSL signs, over thousands of signatures', () => {
    // DER integers are minimal and signed: a half with a leading zero byte (1 in 128 of the
    // halves here) loses it, one with its top bit set (half of them) gains a 0x00.
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    let shortHalves = 0
    let paddedHalves = 0
    for (let i = 0; i < 3000; i++) {
      const der = sign('sha256', Buffer.from(`message ${i}`), privateKey)
      const compact = derToCompact(der)
      assert.equal(hex(compactToDer(compact)), hex(der), `signature ${i}`)
      for (const half of [0, 32]) {
        if (compact[half] === 0) shortHalves++
        if (compact[half]! & 0x80) paddedHalves++
      }
    }
    assert.ok(shortHalves > 0, 'some halves began with a zero byte')
    assert.ok(paddedHalves > 0, 'some halves had their top bit set')
  })

  it('encodes the edge cases by hand', () => {
    const sig = new Uint8Array(64)
    sig[31] = 1 // r = 1
    sig.fill(0xff, 32) // s = 2^256 - 1: top bit set
    assert.equal(hex(compactToDer(sig)), `3026020101022100${'ff'.repeat(32)}`)

    sig.fill(0)
    sig[1] = 0x80 // r = 0x0080…00: one zero byte dropped, then padded back
    sig[33] = 0x7f // s = 0x007f…00: one zero byte dropped, no pad
    assert.equal(
      hex(compactToDer(sig)),
      `3043022000${'80'}${'00'.repeat(30)}021f7f${'00'.repeat(30)}`,
    )

    sig.fill(0) // r = s = 0: one zero byte each (refused before this runs, still well-formed)
    assert.equal(hex(compactToDer(sig)), '3006020100020100')
  })
})
