// A host's whole resync (POST /admin/pds/resync, answered as a ResyncProgress by
// src/resync/host-resyncs.ts) as the hosts and archive pages show it: a progress bar of the
// repos checked, the status, the counts, when it started or ended and its last error; and the
// hosts page's button that starts one (after a confirm: it fetches every account that differs).
import { fmtNumber, fmtRelative, fmtTime, h } from './dom.js'

const WORD = { running: 'running', done: 'done', failed: 'failed' }
const WHEN = { running: 'started', done: 'finished', failed: 'failed' }

/**
 * The bar: repos checked of repos listed. listRepos gives no total, so while a resync runs and has
 * checked every repo listed so far the bar is indeterminate (it cannot say how far it is).
 */
function bar(p) {
  const total = Math.max(p.numRepos ?? 0, p.numReposChecked ?? 0)
  const known = p.status !== 'running' || (p.numReposChecked ?? 0) < total
  const attrs = { dataset: { field: 'resync-bar' }, title: 'repos checked of repos listed' }
  if (!known) return h('progress', attrs)
  // A finished resync of a host with no accounts is a full bar, not an empty one.
  const max = Math.max(total, 1)
  const value = p.status === 'done' && total === 0 ? 1 : (p.numReposChecked ?? 0)
  return h('progress', { ...attrs, max, value })
}

function counts(p) {
  const checked = fmtNumber(p.numReposChecked)
  const parts = [
    p.status === 'running' && p.numReposChecked >= p.numRepos
      ? `${checked} repos checked so far`
      : `${checked} of ${fmtNumber(p.numRepos)} repos checked`,
  ]
  if (p.numReposToResync > 0) {
    const failed = p.numReposFailed > 0 ? `, ${fmtNumber(p.numReposFailed)} failed` : ''
    parts.push(
      `${fmtNumber(p.numReposResynced)} of ${fmtNumber(p.numReposToResync)} differing resynced${failed}`,
    )
  } else if (p.status === 'done') parts.push('none differed')
  return parts.join(' · ')
}

/** One resync's progress: the bar, "resync done · 2 of 2 repos checked · … · 3 s ago". */
export function resyncView(p) {
  const at = p.statusChangedAt
  return h(
    `div.resync.resync-${p.status}`,
    { dataset: { resync: p.pds } },
    bar(p),
    h(
      'div.sub',
      {},
      'resync ',
      h('span', { dataset: { field: 'resync-status' } }, WORD[p.status] ?? p.status),
      ' · ',
      h('span', { dataset: { field: 'resync-counts' } }, counts(p)),
      ' · ',
      h(
        'span',
        { dataset: { field: 'resync-when' }, title: at ? fmtTime(at) : undefined },
        `${WHEN[p.status] ?? 'changed'} ${fmtRelative(at)}`,
      ),
    ),
    p.lastError ? h('div.sub.error', { dataset: { field: 'resync-error' } }, p.lastError) : null,
  )
}

/** The hosts page's "Resync" button; `start` is called once the operator confirms. */
export function resyncButton(host, progress, start) {
  const running = progress?.status === 'running'
  return h(
    'button',
    {
      type: 'button',
      dataset: { action: 'resync' },
      disabled: running,
      title: running ? 'a resync of this host is running' : undefined,
      onclick: () => {
        const ok = window.confirm(
          `Resync ${host}? The relay lists every account on it and fetches each one whose head differs from what it holds, at the host's crawl rate.`,
        )
        if (ok) start()
      },
    },
    running ? 'Resyncing…' : 'Resync',
  )
}
