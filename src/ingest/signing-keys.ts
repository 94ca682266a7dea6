// The did:key of an identity's signing key, remembered on the key object itself. Identities are
// cached and shared, so without this every event of an account parses the same verification
// method again: a new 57-character string and a touch of the key cache's LRU, ~0.4 µs, where
// this lookup takes ~0.03 µs. A WeakMap: an identity dropped from its cache takes its entry
// along.
import type { SigningKey } from '../identity/did-document.ts'
import { KeyParseError, parseVerificationMethod } from '../verify/crypto/keys.ts'

const didKeys = new WeakMap<SigningKey, string | null>()

/** The key's did:key, or null when it does not parse (an unusable key). */
export function didKeyOf(key: SigningKey): string | null {
  let didKey = didKeys.get(key)
  if (didKey === undefined) {
    try {
      didKey = parseVerificationMethod(key).didKey
    } catch (err) {
      if (!(err instanceof KeyParseError)) throw err
      didKey = null
    }
    didKeys.set(key, didKey)
  }
  return didKey
}
