// Archive and repairs: whether archival mode (--archive) is on, and then the repos mirrored, the
// archive's size and the space free for reuse, and its compaction (progress, and "Compact now"
// after a confirm); in both modes the repair queue of desynchronized accounts and every host
// resync (GET /admin/archive and GET /admin/pds/resyncs, src/resync/archive-status.ts).
// Refreshed every 10 s, every second while a compaction, a repair or a resync runs.
import { facts, fmtBytes, fmtDuration, fmtNumber, h, poll, when } from './dom.js'
import { resyncView } from './host-resync.js'

const COMPACTION = {
  idle: 'No compaction has run since the relay started.',
  running: 'Running',
  done: 'Finished',
  failed: 'Failed',
}

/** A size in KiB/MiB/GiB, the exact byte count as its tooltip. */
const bytes = (n) =>
  typeof n === 'number' ? h('span', { title: `${n} bytes` }, fmtBytes(n)) : null

function modeView(a) {
  if (!a.enabled)
    return [
      facts([['Archival mode', 'off', 'mode']]),
      h(
        'p.muted',
        {},
        'This relay keeps no copy of repos (start it with --archive to mirror every repo). Resyncs and repairs still keep account heads right.',
      ),
    ]
  return facts([
    ['Archival mode', 'on', 'mode'],
    ['Repos mirrored', fmtNumber(a.repos), 'repos'],
    ['Size on disk', bytes(a.storageBytes), 'storage'],
    ['Of it free for reuse', bytes(a.freeBytes), 'free'],
  ])
}

function compactionView(c) {
  if (!c || c.status === 'idle')
    return h('p.muted', { dataset: { field: 'status' } }, COMPACTION.idle)
  const started = c.startedAt ? new Date(c.startedAt).getTime() : Number.NaN
  const ended = c.finishedAt ? new Date(c.finishedAt).getTime() : Date.now()
  const took = Number.isNaN(started) ? '–' : fmtDuration(ended - started)
  return facts([
    ['Status', h(`span.state-${c.status}`, {}, COMPACTION[c.status] ?? c.status), 'status'],
    ['Repos compacted', fmtNumber(c.reposDone), 'repos-done'],
    ['Blocks removed', fmtNumber(c.blocksRemoved), 'blocks-removed'],
    ['Size before', bytes(c.bytesBefore), 'bytes-before'],
    ['Size after', c.bytesAfter === null ? 'not yet' : bytes(c.bytesAfter), 'bytes-after'],
    ['Started', when(c.startedAt), 'started'],
    [
      'Finished',
      c.finishedAt ? [when(c.finishedAt), ` after ${took}`] : `still running (${took} so far)`,
      'finished',
    ],
    ['Last error', c.lastError ? h('span.error', {}, c.lastError) : 'none', 'last-error'],
  ])
}

function repairsView(r) {
  return facts([
    ['Waiting', fmtNumber(r.queued), 'queued'],
    ['Running', fmtNumber(r.running), 'running'],
    ['Repaired', fmtNumber(r.repaired), 'repaired'],
    ['Failed (tried again later)', fmtNumber(r.failed), 'failed'],
    ['Not queued (queue full; the sweep takes them later)', fmtNumber(r.overflow), 'overflow'],
  ])
}

export function renderArchive(ctx) {
  const mode = h('div#archive-mode.card')
  const compaction = h('div#compaction.card', { hidden: true })
  const repairs = h('div#repairs.card')
  const resyncs = h('div#resyncs.card')
  const compact = h(
    'button.primary',
    {
      type: 'button',
      dataset: { action: 'compact' },
      onclick: async () => {
        const ok = window.confirm(
          'Compact the archive now? Every repo is swept for blocks its tree no longer reaches, one repo at a time, and the space is given back.',
        )
        if (!ok) return
        await ctx.act('Compaction', () => ctx.api('POST', '/admin/repo/compactAll'))
        await refresh()
      },
    },
    'Compact now',
  )
  const load = async () => {
    const [s, r] = await Promise.all([
      ctx.api('GET', '/admin/archive', { signal: ctx.signal }),
      ctx.api('GET', '/admin/pds/resyncs', { signal: ctx.signal }),
    ])
    mode.replaceChildren(h('h2', {}, 'Archival mode'), ...[modeView(s.archive)].flat())
    // Compaction exists only in archival mode: no button to press when there is nothing to compact.
    compaction.hidden = !s.archive.enabled
    const running = s.compaction?.status === 'running'
    compact.disabled = running
    compaction.replaceChildren(
      h('div.row.spread', {}, h('h2', {}, 'Compaction'), s.archive.enabled ? compact : null),
      compactionView(s.compaction),
    )
    repairs.replaceChildren(
      h('h2', {}, 'Repairs of desynchronized accounts'),
      repairsView(s.repairs),
    )
    resyncs.replaceChildren(
      h('h2', {}, 'Host resyncs'),
      r.resyncs.length === 0
        ? h('p.muted', {}, 'No host has been resynced (start one on the Hosts page).')
        : h(
            'ul.resyncs',
            {},
            r.resyncs.map((p) => h('li', {}, h('b', {}, p.pds), resyncView(p))),
          ),
    )
    const busy = running || s.repairs.running > 0 || r.resyncs.some((p) => p.status === 'running')
    return busy ? 1000 : 10_000
  }
  ctx.root.append(h('h1', {}, 'Archive and repairs'), mode, compaction, repairs, resyncs)
  const refresh = poll(ctx.signal, 10_000, load, ctx.failed)
}
