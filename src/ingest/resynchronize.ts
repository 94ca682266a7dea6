// Taking in a repo state fetched from the account's PDS (a repair or a resync), in order with the
// account's events: the relay's own `#sync` announces the head (so consumers re-sync the repo),
// the account's head moves to it, archival mode's mirror becomes the fetched repo, and a
// desynchronized account is active again (announced with `#account`).
// A fetched head older than the one the relay already has is `stale` (a commit arrived while the
// repo was being fetched: the caller fetches again); accounts the relay holds back (taken down,
// throttled) are `refused`. A head the relay already has is announced only when asked (a repair
// announces it: consumers missed something).
// Deliberately not here: fetching and verifying (resync/ and verify/), when repairs run.
import type { AccountState } from '../accounts/account-state.ts'
import type { RepoHead } from '../archive/repo-change.ts'
import { encodeCarSlice } from '../protocol/car.ts'
import { syncBody } from '../protocol/output.ts'
import { compareTid } from '../protocol/syntax/index.ts'
import type { AccountWriter } from './account-writer.ts'
import type { IngestDeps } from './types.ts'

export interface ResyncInput {
  /** The host the account's DID document names (where the repo was fetched). */
  readonly hostId: number
  readonly head: RepoHead
  /** Archival mode: the whole repo's tree, verified complete, for the mirror. */
  readonly tree?: ReadonlyMap<string, Uint8Array>
  /** Announce with `#sync` even when the head is the one the relay has (a repair). */
  readonly announce: boolean
}

export const RESYNC_RESULTS = ['synced', 'unchanged', 'stale', 'refused'] as const
export type ResyncResult = (typeof RESYNC_RESULTS)[number]

export async function resynchronize(
  w: AccountWriter,
  d: IngestDeps,
  did: string,
  input: ResyncInput,
): Promise<{ result: ResyncResult; state: AccountState | undefined }> {
  const now = d.now()
  let account = await d.accounts.get(did)
  if (account?.rev && compareTid(input.head.rev, account.rev) < 0) {
    return { result: 'stale', state: account }
  }
  if (!account) {
    const admitting = w.admit(w.fresh(did, input.hostId, now))
    account = admitting instanceof Promise ? await admitting : admitting
    if (account.localStatus === 'throttled') {
      w.save(account, 0, account)
      return { result: 'refused', state: account }
    }
  }
  if (account.localStatus === 'takendown' || account.localStatus === 'throttled') {
    return { result: 'refused', state: account }
  }
  let changed = account.commitCid !== input.head.commitCid
  if (input.tree && d.mirror) {
    const imported = await d.mirror
      .importRepo(did, input.head, input.tree)
      .catch((err: unknown) => {
        w.unadmit(did, input.hostId) // not stored: a slot granted to a new account goes back
        throw err
      })
    changed = imported.changed || changed
    // The import awaited: where this thread counts the slots, another new account may have
    // taken the last one meanwhile, so a new account's is checked again right before its store.
    const confirmed = w.confirm(account)
    if (confirmed !== account) {
      w.save(confirmed, 0, confirmed)
      // Kept would be harmless (a release repairs it), but it is not the relay's to hold.
      await d.mirror.delete(did).catch((err: unknown) => {
        d.onError?.(err, { hostId: input.hostId, seq: 0, did })
      })
      return { result: 'refused', state: confirmed }
    }
  }
  const desynchronized = account.localStatus === 'desynchronized'
  if (!changed && !input.announce && !desynchronized) return { result: 'unchanged', state: account }
  const { head } = input
  const blocks = encodeCarSlice([head.commitCid], [[head.commitCid, head.commitBlock]])
  const time = new Date(now).toISOString()
  const body = syncBody({ type: '#sync', seq: 0, did, rev: head.rev, blocks, time })
  // Upstream seq 0: the relay's own event for an account of this host.
  const record = w.append('#sync', body, input.hostId, 0, did)
  let state = w.apply(
    account,
    {
      kind: 'head',
      hostId: input.hostId,
      rev: head.rev,
      commitCid: head.commitCid,
      dataCid: head.dataCid,
    },
    record.seq,
  )
  if (desynchronized) state = (await w.setLocalStatus(did, 'active')) ?? state
  return { result: 'synced', state }
}
