// What the relay asks of a libsecp256k1, whichever loaded it: the system's (k256-system.ts) or
// the `secp256k1` package's binding (k256-native.ts). Its own file so that neither loader
// imports the other for it.

/** The raw binding method we use. Return codes: 0 valid, 1 bad signature encoding (r or s >= n),
 * 2 bad public key, 3 signature does not verify. libsecp256k1's `secp256k1_ecdsa_verify`
 * itself refuses high-S signatures (returns 3 for them). */
export interface NativeSecp256k1 {
  ecdsaVerify(sig: Uint8Array, msg32: Uint8Array, publicKey: Uint8Array): number
  /**
   * 0 when `publicKey` (33 or 65 bytes) parses as a point on the curve, 1 otherwise. Optional: a
   * binding without it still verifies natively, and keys are checked by OpenSSL instead.
   */
  publicKeyVerify?(publicKey: Uint8Array): number
  /**
   * Writes `publicKey` (33 or 65 bytes) into `output` in the form its length asks for (65:
   * uncompressed); 0 when it parses as a point on the curve, 1 otherwise. Optional, as above.
   */
  publicKeyConvert?(output: Uint8Array, publicKey: Uint8Array): number
}

export const NATIVE_VERIFY_OK = 0
