// The one error thrown by the `assert*` / `parse*` functions of this folder when a string is not
// a well-formed atproto identifier. Callers branch on `kind` (which identifier) and may log
// `reason` (which rule failed). It does not describe resolution failures (a syntactically valid
// handle that does not resolve is an identity concern, not a syntax one).

export type SyntaxKind =
  | 'did'
  | 'handle'
  | 'nsid'
  | 'record-key'
  | 'datetime'
  | 'tid'
  | 'repo-path'
  | 'cid'

/** Longest slice of the offending value quoted in the message; the `value` field is kept whole. */
const MESSAGE_VALUE_MAX = 80

export class InvalidSyntaxError extends Error {
  override readonly name = 'InvalidSyntaxError'
  readonly kind: SyntaxKind
  readonly value: string
  readonly reason: string

  constructor(kind: SyntaxKind, value: string, reason: string, options?: { cause?: unknown }) {
    super(`invalid ${kind} ${quote(value)}: ${reason}`, options)
    this.kind = kind
    this.value = value
    this.reason = reason
  }
}

function quote(value: string): string {
  if (value.length <= MESSAGE_VALUE_MAX) return JSON.stringify(value)
  const head = JSON.stringify(value.slice(0, MESSAGE_VALUE_MAX))
  return `${head}… (${value.length} chars)`
}
