import assert from 'node:assert/strict'
import { test } from 'node:test'
import { toBase58Btc } from '@atcute/multibase'
import { LEGACY_K256_TYPE, parseDidKey } from '../verify/crypto/keys.ts'
import { didKeyOf } from './signing-keys.ts'

// A valid k256 Multikey (compressed point, base58btc).
const K256 = 'zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme'

test('the did:key of a signing key, remembered per key object; null when none can be named', () => {
  const key = { type: 'Multikey', publicKeyMultibase: K256 }
  const didKey = didKeyOf(key)
  assert.equal(didKey, `did:key:${K256}`)
  assert.equal(didKeyOf(key), didKey)
  assert.equal(didKeyOf({ type: 'SomethingElse', publicKeyMultibase: K256 }), null)
  assert.equal(didKeyOf({ type: 'Multikey', publicKeyMultibase: `z${'2'.repeat(200)}` }), null)
})

test('a Multikey is named as written, not parsed: the verification parses it and refuses it', () => {
  // Whoever verifies with the key parses it in full (verify-task.test.ts): checking it here too
  // cost the main thread a second parse of every new identity's key.
  assert.equal(didKeyOf({ type: 'Multikey', publicKeyMultibase: 'zNotAKey' }), 'did:key:zNotAKey')
})

test('a legacy method is parsed (its raw point needs the multicodec), and null when unusable', () => {
  const point = parseDidKey(`did:key:${K256}`).compressed
  const legacy = { type: LEGACY_K256_TYPE, publicKeyMultibase: `z${toBase58Btc(point)}` }
  assert.equal(didKeyOf(legacy), `did:key:${K256}`)
  const off = new Uint8Array(33).fill(0xff)
  off[0] = 0x02
  assert.equal(
    didKeyOf({ type: LEGACY_K256_TYPE, publicKeyMultibase: `z${toBase58Btc(off)}` }),
    null,
  )
})
