// The did:key of an identity's signing key, remembered on the key object itself. Identities are
// cached and shared, so without this every event of an account builds the same 57-character
// string again. A WeakMap: an identity dropped from its cache takes its entry along.
// The key is named, not parsed (keys.ts `nameDidKey`): the verification parses it in full, and
// an unusable key comes back from it as `identity-unavailable` (verify-task.ts). Parsing it here
// too cost the main thread about 6% of its busy time with 40,000 accounts, most of them new.
import type { SigningKey } from '../identity/did-document.ts'
import { KeyParseError, nameDidKey } from '../verify/crypto/keys.ts'

const didKeys = new WeakMap<SigningKey, string | null>()

/** The key's did:key, or null when it cannot name one (an unknown type, no key). */
export function didKeyOf(key: SigningKey): string | null {
  let didKey = didKeys.get(key)
  if (didKey === undefined) {
    try {
      didKey = nameDidKey(key)
    } catch (err) {
      if (!(err instanceof KeyParseError)) throw err
      didKey = null
    }
    didKeys.set(key, didKey)
  }
  return didKey
}
