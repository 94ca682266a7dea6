// Per-host sync 1.1 validation mode (docs/design.md §4 item 7). A host pinned to strict or lenient
// stays there. In `auto`, a host is lenient until it has sent `ratchetCommits` consecutive
// commits that all carried `prevData` and inverted to it, and strict from then on; strict hosts
// are never demoted automatically. Pure: the caller stores the state.
import type { SyncMode, ValidationMode } from '../verify/validation-mode.ts'

export { SYNC_MODES, type SyncMode } from '../verify/validation-mode.ts'

export interface SyncRatchetState {
  /** The operator's setting for this host (null: follow the relay default). */
  readonly mode: SyncMode | null
  /** What `auto` has reached. */
  readonly effective: ValidationMode
  /** Consecutive good commits while lenient under `auto`. */
  readonly goodRun: number
}

export function effectiveMode(state: SyncRatchetState, relayDefault: SyncMode): ValidationMode {
  const mode = state.mode ?? relayDefault
  return mode === 'auto' ? state.effective : mode
}

/** The state after one accepted commit; `proven` = it carried prevData and inverted to it. */
export function afterCommit(
  state: SyncRatchetState,
  relayDefault: SyncMode,
  proven: boolean,
  ratchetCommits: number,
): SyncRatchetState {
  if ((state.mode ?? relayDefault) !== 'auto' || state.effective === 'strict') return state
  if (!proven) return state.goodRun === 0 ? state : { ...state, goodRun: 0 }
  const goodRun = state.goodRun + 1
  return goodRun >= ratchetCommits
    ? { ...state, effective: 'strict', goodRun }
    : { ...state, goodRun }
}
