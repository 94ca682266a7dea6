import assert from 'node:assert/strict'
import { test } from 'node:test'
import { didKeyOf } from './signing-keys.ts'

// A valid k256 Multikey (compressed point, base58btc).
const K256 = 'zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme'

test('the did:key of a signing key, remembered per key object; null for an unusable key', () => {
  const key = { type: 'Multikey', publicKeyMultibase: K256 }
  const didKey = didKeyOf(key)
  assert.equal(didKey, `did:key:${K256}`)
  assert.equal(didKeyOf(key), didKey)
  assert.equal(didKeyOf({ type: 'Multikey', publicKeyMultibase: 'zNotAKey' }), null)
  assert.equal(didKeyOf({ type: 'SomethingElse', publicKeyMultibase: K256 }), null)
})
