// The one error thrown when a value is not valid in the atproto data model (JSON side, or the
// in-memory values the CBOR codec reads and writes). `path` says where, e.g. `$.ops[2].cid`.
// It does not cover byte-level CBOR problems: those are DagCborError.

/** What is wrong with a data-model value. */
export type DataModelProblem =
  | 'not-object'
  | 'float'
  | 'int-out-of-range'
  | 'bad-string'
  | 'bad-link'
  | 'bad-bytes'
  | 'bad-type'
  | 'bad-blob'
  | 'unsupported-value'
  | 'too-deep'

/** A value breaks a rule of the atproto data model at `path`. */
export class DataModelError extends Error {
  readonly code: DataModelProblem
  readonly path: string

  constructor(code: DataModelProblem, path: string, detail: string, options?: ErrorOptions) {
    super(`data model ${code} at ${path}: ${detail}`, options)
    this.name = 'DataModelError'
    this.code = code
    this.path = path
  }
}
