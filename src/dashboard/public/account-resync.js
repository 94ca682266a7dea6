// The account page's "Resync account" (POST /admin/repo/resync, src/resync/repo-syncer.ts): the
// relay fetches the account's repo (or head) from its PDS, takes it in and announces it with
// `#sync`; a desynchronized account is active again. Its answer shown as labelled facts.
import { facts, fmtNumber, h } from './dom.js'

const RESULT = {
  synced: 'synced: fetched from its PDS, taken in and announced (#sync)',
  unchanged: 'unchanged: this relay already holds the head its PDS has',
  stale: 'stale: a newer commit arrived while it was fetched',
  refused: 'refused: the account is held back on this relay (taken down or throttled)',
  failed: 'failed',
}

export function resyncResultView(r) {
  const failed = r.result === 'failed'
  return h(
    'div#account-resync.card',
    {},
    h('h2', {}, 'Just resynced'),
    facts(
      [
        [
          'Result',
          h(`span.state-${failed ? 'failed' : 'done'}`, {}, RESULT[r.result] ?? r.result),
          'result',
        ],
        failed ? ['Why', `${r.reason}: ${r.detail}`, 'why'] : ['Rev fetched', r.rev, 'rev'],
        r.records === undefined ? null : ['Records (archive)', fmtNumber(r.records), 'records'],
      ].filter(Boolean),
    ),
  )
}
