// Constants of the two curves atproto signs with (k256 = secp256k1, p256 = NIST P-256 /
// secp256r1): group order, half order (the low-S bound), multicodec prefixes of did:key /
// Multikey, and the DER prefix that wraps a 33-byte compressed point into an X.509
// SubjectPublicKeyInfo for node:crypto. Values only: no parsing, no validation here.

export type Curve = 'k256' | 'p256'

export interface CurveParams {
  readonly curve: Curve
  /** Group order n, big-endian, 32 bytes. */
  readonly order: Uint8Array
  /** floor(n / 2), big-endian, 32 bytes: a signature is low-S when s <= this. */
  readonly halfOrder: Uint8Array
  /** Unsigned-varint multicodec prefix of the public key in did:key / Multikey. */
  readonly multicodec: Uint8Array
  /** DER of SubjectPublicKeyInfo up to (and including) the BIT STRING's unused-bits byte. */
  readonly spkiPrefix: Uint8Array
}

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'))

// id-ecPublicKey OID 1.2.840.10045.2.1
const EC_PUBLIC_KEY_OID = '06072a8648ce3d0201'

export const K256: CurveParams = {
  curve: 'k256',
  order: hex('fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141'),
  halfOrder: hex('7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0'),
  // multicodec secp256k1-pub 0xe7 as unsigned varint
  multicodec: Uint8Array.of(0xe7, 0x01),
  // SEQ(54) { SEQ(16) { ecPublicKey, secp256k1 OID 1.3.132.0.10 }, BIT STRING(34) 0x00 }
  spkiPrefix: hex(`30363010${EC_PUBLIC_KEY_OID}06052b8104000a032200`),
}

export const P256: CurveParams = {
  curve: 'p256',
  order: hex('ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551'),
  halfOrder: hex('7fffffff800000007fffffffffffffffde737d56d38bcf4279dce5617e3192a8'),
  // multicodec p256-pub 0x1200 as unsigned varint
  multicodec: Uint8Array.of(0x80, 0x24),
  // SEQ(57) { SEQ(19) { ecPublicKey, prime256v1 OID 1.2.840.10045.3.1.7 }, BIT STRING(34) 0x00 }
  spkiPrefix: hex(`30393013${EC_PUBLIC_KEY_OID}06082a8648ce3d030107032200`),
}

export const CURVES: Readonly<Record<Curve, CurveParams>> = { k256: K256, p256: P256 }
