// Hosts: every PDS the relay knows, with search, sorting and pages; status, cursor, accounts and
// limit, the live event rate (events seen between two refreshes), recent drop reasons; actions:
// request a crawl, block/unblock, disconnect, change limits, resync every account (after a
// confirm). Refreshed every 10 s, every 2 s while a resync runs. The status cell (host-status.js)
// also says when an offline host is retried and why it last failed; under a host's name, its last
// resync's progress (host-resync.js).
import { field, fmtNumber, h, poll } from './dom.js'
import { resyncButton, resyncView } from './host-resync.js'
import { statusCell } from './host-status.js'

const PAGE_SIZE = 25
const COLUMNS = [
  { key: 'Host', label: 'Host', get: (r) => r.Host },
  { key: 'Status', label: 'Status', get: (r) => (r.Blocked ? 'blocked' : r.Status) },
  { key: 'Cursor', label: 'Cursor', num: true, get: (r) => r.Cursor ?? 0 },
  { key: 'Accounts', label: 'Accounts / limit', num: true, get: (r) => r.RepoCount ?? 0 },
  { key: 'Rate', label: 'Events /s', num: true, get: (r, rates) => rates.get(r.Host) ?? 0 },
  { key: 'Limit', label: 'Limit /s', num: true, get: (r) => r.RateLimit ?? 0 },
  { key: 'Drops', label: 'Recent drops', get: (r) => (r.RecentDrops ?? []).length },
]

export function renderHosts(ctx) {
  const state = {
    rows: [],
    resyncs: new Map(),
    search: '',
    sort: 'Host',
    desc: false,
    page: 0,
    open: null,
  }
  const rates = new Map()
  let lastSeen = new Map()
  let lastAt = 0
  const table = h('table#hosts')
  const pager = h('div.row')
  const search = h('input', {
    type: 'search',
    placeholder: 'Search hosts',
    oninput: () => {
      state.search = search.value.trim().toLowerCase()
      state.page = 0
      draw()
    },
  })
  const crawlInput = h('input', {
    name: 'hostname',
    placeholder: 'pds.example.com',
    required: true,
  })
  const crawlForm = h(
    'form.row',
    {
      onsubmit: async (e) => {
        e.preventDefault()
        const hostname = crawlInput.value.trim()
        const ok = await ctx.act(`Request crawl of ${hostname}`, () =>
          ctx.api('POST', '/admin/pds/requestCrawl', { body: { hostname } }),
        )
        if (ok) crawlInput.value = ''
        await refresh(true)
      },
    },
    crawlInput,
    h('button', { type: 'submit' }, 'Request crawl'),
  )
  ctx.root.append(h('h1', {}, 'Hosts'), crawlForm, h('div.row', {}, search), table, pager)

  // The timer's refresh leaves an open limits form alone (it would undo the operator's typing).
  async function load(force) {
    const [rows, { resyncs }] = await Promise.all([
      ctx.api('GET', '/admin/pds/list', { signal: ctx.signal }),
      ctx.api('GET', '/admin/pds/resyncs', { signal: ctx.signal }),
    ])
    state.resyncs = new Map(resyncs.map((p) => [p.pds, p]))
    const now = Date.now()
    const seen = new Map(rows.map((r) => [r.Host, r.EventsSeenSinceStartup ?? 0]))
    if (lastAt > 0) {
      const secs = (now - lastAt) / 1000
      for (const [host, n] of seen)
        rates.set(host, Math.max(0, (n - (lastSeen.get(host) ?? n)) / secs))
    }
    lastSeen = seen
    lastAt = now
    state.rows = rows
    if (force || state.open === null) draw()
    return resyncs.some((p) => p.status === 'running') ? 2000 : 10_000
  }

  async function action(label, method, path, opts) {
    await ctx.act(label, () => ctx.api(method, path, opts))
    await refresh(true)
  }

  function visible() {
    const col = COLUMNS.find((c) => c.key === state.sort) ?? COLUMNS[0]
    const rows = state.rows.filter((r) => r.Host.toLowerCase().includes(state.search))
    rows.sort((a, b) => {
      const x = col.get(a, rates)
      const y = col.get(b, rates)
      const c = typeof x === 'number' ? x - y : String(x).localeCompare(String(y))
      return state.desc ? -c : c
    })
    return rows
  }

  function draw() {
    const rows = visible()
    const pages = Math.max(1, Math.ceil(rows.length / PAGE_SIZE))
    state.page = Math.min(state.page, pages - 1)
    const shown = rows.slice(state.page * PAGE_SIZE, (state.page + 1) * PAGE_SIZE)
    const head = h(
      'tr',
      {},
      COLUMNS.map((c) =>
        h(
          `th.sortable${c.num ? '.num' : ''}${state.sort === c.key ? (state.desc ? '.sorted-desc' : '.sorted-asc') : ''}`,
          {
            onclick: () => {
              state.desc = state.sort === c.key ? !state.desc : false
              state.sort = c.key
              draw()
            },
          },
          c.label,
        ),
      ),
      h('th', {}, 'Actions'),
    )
    const body = h('tbody')
    for (const r of shown) {
      body.append(hostRow(r))
      if (state.open === r.Host) body.append(limitsRow(r))
    }
    if (shown.length === 0) body.append(h('tr', {}, h('td.muted', { colspan: 8 }, 'No hosts.')))
    table.replaceChildren(h('thead', {}, head), body)
    pager.replaceChildren(
      h(
        'button',
        {
          type: 'button',
          disabled: state.page === 0,
          onclick: () => {
            state.page--
            draw()
          },
        },
        '‹ Prev',
      ),
      h('span.muted', {}, `Page ${state.page + 1} of ${pages} (${rows.length} hosts)`),
      h(
        'button',
        {
          type: 'button',
          disabled: state.page >= pages - 1,
          onclick: () => {
            state.page++
            draw()
          },
        },
        'Next ›',
      ),
    )
  }

  function hostRow(r) {
    const drops = (r.RecentDrops ?? []).map((d) => `${d.reason} (${d.count1h}/1h)`).join(', ')
    const q = { query: { host: r.Host } }
    const resync = state.resyncs.get(r.Host)
    return h(
      'tr',
      { dataset: { host: r.Host } },
      h(
        'td',
        {},
        r.Host,
        r.HasActiveConnection ? h('span.muted', {}, ' ● live') : null,
        resync ? resyncView(resync) : null,
      ),
      statusCell(r),
      h('td.num', {}, r.Cursor ?? '–'),
      h('td.num', {}, `${fmtNumber(r.RepoCount)} / ${fmtNumber(r.RepoLimit)}`),
      h('td.num', {}, fmtNumber(rates.get(r.Host) ?? 0)),
      h('td.num', { dataset: { field: 'rate-limit' } }, fmtNumber(r.RateLimit)),
      h(
        'td',
        {},
        drops || '–',
        r.LastError ? h('div.muted', {}, `last: ${r.LastError.reason}`) : null,
      ),
      h(
        'td',
        {},
        h(
          'button',
          {
            type: 'button',
            onclick: () => {
              state.open = state.open === r.Host ? null : r.Host
              draw()
            },
          },
          'Limits',
        ),
        ' ',
        r.Blocked
          ? h(
              'button',
              {
                type: 'button',
                onclick: () => action(`Unblock ${r.Host}`, 'POST', '/admin/pds/unblock', q),
              },
              'Unblock',
            )
          : h(
              'button.danger',
              {
                type: 'button',
                onclick: () => action(`Block ${r.Host}`, 'POST', '/admin/pds/block', q),
              },
              'Block',
            ),
        ' ',
        r.HasActiveConnection
          ? h(
              'button',
              {
                type: 'button',
                onclick: () =>
                  action(`Disconnect ${r.Host}`, 'POST', '/admin/subs/killUpstream', q),
              },
              'Disconnect',
            )
          : null,
        ' ',
        resyncButton(r.Host, resync, () =>
          action(`Start a resync of ${r.Host}`, 'POST', '/admin/pds/resync', q),
        ),
      ),
    )
  }

  function limitsRow(r) {
    const num = (name, value) => h('input', { name, type: 'number', min: 1, value: value ?? '' })
    const inputs = {
      per_second: num('per_second', r.PerSecondEventRate?.Max ?? r.RateLimit),
      per_hour: num('per_hour', r.PerHourEventRate?.Max ?? r.HourlyEventLimit),
      per_day: num('per_day', r.PerDayEventRate?.Max ?? r.DailyEventLimit),
      repo_limit: num('repo_limit', r.RepoLimit),
    }
    const sync = h(
      'select',
      { name: 'sync_validation' },
      ['auto', 'strict', 'lenient'].map((m) =>
        h('option', { value: m, selected: (r.SyncValidation?.mode ?? 'auto') === m }, m),
      ),
    )
    const form = h(
      'form.limits-form',
      {
        onsubmit: async (e) => {
          e.preventDefault()
          const body = { host: r.Host, sync_validation: sync.value }
          for (const [k, input] of Object.entries(inputs)) {
            if (input.value !== '') body[k] = Number(input.value)
          }
          state.open = null
          await action(`Change limits of ${r.Host}`, 'POST', '/admin/pds/changeLimits', { body })
        },
      },
      field('Per second', inputs.per_second),
      field('Per hour', inputs.per_hour),
      field('Per day', inputs.per_day),
      field('Accounts', inputs.repo_limit),
      field('Sync validation', sync),
      h('button', { type: 'submit' }, 'Save limits'),
    )
    return h('tr', { dataset: { limitsFor: r.Host } }, h('td', { colspan: 8 }, form))
  }

  const refresh = poll(ctx.signal, 10_000, (force = false) => load(force), ctx.failed)
}
