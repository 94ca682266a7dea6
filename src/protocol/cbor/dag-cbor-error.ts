// The one error the strict DAG-CBOR check throws, with a closed list of problem codes so callers
// (frame decoding, drop-reason mapping, tests) can branch on `code` and log `offset`.
// It does not decide what a caller does with a bad frame (drop vs close): that is policy elsewhere.

/** What is wrong with a DAG-CBOR input, one code per rule of the atproto data model. */
export type DagCborProblem =
  | 'float'
  | 'non-minimal'
  | 'indefinite-length'
  | 'non-string-key'
  | 'duplicate-key'
  | 'unsorted-keys'
  | 'bad-tag'
  | 'bad-cid'
  | 'bad-simple'
  | 'reserved-info'
  | 'invalid-utf8'
  | 'int-out-of-range'
  | 'truncated'
  | 'length-exceeds-input'
  | 'trailing-bytes'
  | 'too-deep'
  | 'unsupported'

const DESCRIPTIONS: Readonly<Record<DagCborProblem, string>> = {
  float: 'floating-point number (not allowed in the atproto data model)',
  'non-minimal': 'integer or length not in its shortest encoding',
  'indefinite-length': 'indefinite-length item or break code',
  'non-string-key': 'map key that is not a text string',
  'duplicate-key': 'duplicate map key',
  'unsorted-keys': 'map keys not in canonical order (length first, then bytewise)',
  'bad-tag': 'tag other than 42 (CID)',
  'bad-cid': 'tag 42 content is not 0x00 followed by a binary CIDv1',
  'bad-simple': 'simple value other than false, true or null',
  'reserved-info': 'reserved additional-information value (28-31)',
  'invalid-utf8': 'text string that is not valid UTF-8',
  'int-out-of-range': 'integer outside the signed 64-bit range',
  truncated: 'input ends inside a data item',
  'length-exceeds-input': 'declared length or count exceeds the remaining input',
  'trailing-bytes': 'bytes after the end of the data item',
  'too-deep': 'nesting deeper than the allowed maximum',
  unsupported: 'valid DAG-CBOR that the decoder cannot represent',
}

/** A DAG-CBOR input breaks a rule of the atproto data model; `offset` is where, in the input. */
export class DagCborError extends Error {
  readonly code: DagCborProblem
  readonly offset: number

  constructor(code: DagCborProblem, offset: number, detail?: string, options?: ErrorOptions) {
    const what = DESCRIPTIONS[code]
    super(`DAG-CBOR ${code} at offset ${offset}: ${what}${detail ? ` (${detail})` : ''}`, options)
    this.name = 'DagCborError'
    this.code = code
    this.offset = offset
  }
}
