// What verifying one event concludes: accepted (with what the caller stores next and any
// counted warnings) or dropped with a reason from the closed list (protocol/drop-reasons.ts).

import type { DropReason } from '../protocol/drop-reasons.ts'

/** Problems that do not drop an event in the mode it was checked in, but are counted per host. */
export type VerifyWarning =
  /** Lenient mode: the commit has no `prevData`. */
  | 'missing-prev-data'
  /** Lenient mode: the ops do not invert to `prevData`. */
  | 'inversion-failed'
  /** `since`/`prevData` do not match the stored state: passed through (sync spec). */
  | 'chain-break'

export type Verdict<T> =
  | ({ readonly ok: true; readonly warnings: readonly VerifyWarning[] } & T)
  | { readonly ok: false; readonly reason: DropReason; readonly detail: string }

export interface AcceptedRepoState {
  /** The commit's rev: the account's new stored rev. */
  readonly rev: string
  /** CID of the signed commit block. */
  readonly commitCid: string
  /** CID of the MST root the commit signs (`commit.data`). */
  readonly dataCid: string
}

export const drop = (
  reason: DropReason,
  detail: string,
): { ok: false; reason: DropReason; detail: string } => ({
  ok: false,
  reason,
  detail,
})
