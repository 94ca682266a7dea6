// Host pulls: start adding the hosts another relay lists, and watch the progress (every 2 s) as
// labelled facts (GET /admin/pds/pullHosts answers a PullProgress, src/admin/pull-hosts.ts).
import { every, facts, fmtDuration, fmtNumber, h, when } from './dom.js'

const STATUS = {
  idle: 'No pull has run since the relay started.',
  running: 'Running',
  done: 'Finished',
  failed: 'Failed',
}

function progressView(p) {
  if (p.status === 'idle') return h('p.muted', { dataset: { field: 'status' } }, STATUS.idle)
  const started = p.startedAt ? new Date(p.startedAt).getTime() : Number.NaN
  const ended = p.finishedAt ? new Date(p.finishedAt).getTime() : Date.now()
  const took = Number.isNaN(started) ? '–' : fmtDuration(ended - started)
  return facts([
    ['Status', h(`span.pull-${p.status}`, {}, STATUS[p.status] ?? p.status), 'status'],
    ['Source relay', p.from ?? '–', 'from'],
    ['Pages read', fmtNumber(p.pages), 'pages'],
    ['Hosts listed', fmtNumber(p.hostsListed), 'listed'],
    ['Added', fmtNumber(p.added), 'added'],
    ['Already known', fmtNumber(p.known), 'known'],
    ['Refused or failed', fmtNumber(p.failed), 'failed'],
    ['Started', when(p.startedAt), 'started'],
    [
      'Finished',
      p.finishedAt ? [when(p.finishedAt), ` after ${took}`] : `still running (${took} so far)`,
      'finished',
    ],
    ['Last error', p.lastError ? h('span.error', {}, p.lastError) : 'none', 'last-error'],
  ])
}

export function renderPulls(ctx) {
  const from = h('input', {
    name: 'from',
    type: 'url',
    placeholder: 'https://relay.example',
    required: true,
    size: 40,
  })
  const out = h('div#pull-progress.card')
  const load = async () => {
    const p = await ctx.api('GET', '/admin/pds/pullHosts', { signal: ctx.signal })
    out.replaceChildren(progressView(p))
  }
  ctx.root.append(
    h('h1', {}, 'Host pulls'),
    h(
      'p.muted',
      {},
      'Adds every host another relay lists (its listHosts), each checked like an admin crawl request.',
    ),
    h(
      'form.row',
      {
        onsubmit: async (e) => {
          e.preventDefault()
          await ctx.act('Pull hosts', () =>
            ctx.api('POST', '/admin/pds/pullHosts', { body: { from: from.value.trim() } }),
          )
          await load().catch(ctx.failed)
        },
      },
      from,
      h('button', { type: 'submit' }, 'Pull hosts'),
    ),
    h('h2', {}, 'Progress'),
    out,
  )
  every(2000, ctx.signal, load, ctx.failed)
}
