// Overview: live charts from /admin/stats (events in/out per second, consumers, drops by reason)
// over a window the operator picks, refreshed every 10 s, with a few headline numbers above them.
// The relay keeps 10 s samples for one hour and 5 min samples for a day (the two StatsRecorders
// of the composition root), so windows up to 1 h use steps in multiples of 10 s and the day view
// 5 min steps; each keeps a chart at 30–290 points. A fresh relay has little history: the short
// window is the default.
import { lineChart } from './chart.js'
import { every, fmtNumber, h } from './dom.js'

const WINDOWS = [
  { label: '5 min', window: '5m', step: '10s', secs: 300 },
  { label: '15 min', window: '15m', step: '10s', secs: 900 },
  { label: '1 h', window: '1h', step: '30s', secs: 3600 },
  { label: '24 h', window: '24h', step: '5m', secs: 86400 },
]
const KEY = 'relay-dash-window'

function chosen() {
  return WINDOWS.find((w) => w.window === localStorage.getItem(KEY)) ?? WINDOWS[0]
}

export function renderOverview(ctx) {
  const tiles = h('div.tiles')
  const charts = h('div.charts')
  const switcher = h('div#chart-window.seg', { role: 'group', 'aria-label': 'Chart window' })
  let win = chosen()
  let latest = null
  const drawSwitcher = () =>
    switcher.replaceChildren(
      ...WINDOWS.map((w) =>
        h(
          'button',
          {
            type: 'button',
            'aria-pressed': String(w === win),
            dataset: { window: w.window },
            onclick: () => {
              win = w
              localStorage.setItem(KEY, w.window)
              drawSwitcher()
              refresh().catch(ctx.failed)
            },
          },
          w.label,
        ),
      ),
    )
  drawSwitcher()
  ctx.root.append(h('div.row.spread', {}, h('h1', {}, 'Overview'), switcher), tiles, charts)

  // A click and the timer may overlap: only the newest request draws.
  async function refresh() {
    const asked = win
    const token = {}
    latest = token
    const [stats, hosts, consumers] = await Promise.all([
      ctx.api('GET', '/admin/stats', {
        query: { window: asked.window, step: asked.step },
        signal: ctx.signal,
      }),
      ctx.api('GET', '/admin/pds/list', { signal: ctx.signal }),
      ctx.api('GET', '/admin/consumers/list', { signal: ctx.signal }),
    ])
    if (latest !== token) return
    const s = stats.series
    const tile = (label, value) => h('div.tile', {}, label, h('b', {}, value))
    tiles.replaceChildren(
      tile('Hosts', fmtNumber(hosts.length)),
      tile('Connected', fmtNumber(hosts.filter((x) => x.HasActiveConnection).length)),
      tile('Consumers', fmtNumber(consumers.length)),
      tile('Events in /s', fmtNumber(s.eventsIn.at(-1) ?? 0)),
      tile('Events out /s', fmtNumber(s.eventsOut.at(-1) ?? 0)),
    )
    const common = { step: stats.step, window: asked.secs }
    charts.replaceChildren(
      lineChart({
        ...common,
        title: 'Events per second',
        unit: '/s',
        series: [
          { name: 'in', values: s.eventsIn },
          { name: 'out', values: s.eventsOut },
        ],
      }),
      lineChart({
        ...common,
        title: 'Consumers',
        series: [{ name: 'connected', values: s.consumers }],
      }),
      lineChart({
        ...common,
        title: 'Drops per second by reason',
        unit: '/s',
        series: Object.entries(s.drops).map(([name, values]) => ({ name, values })),
      }),
      // Which thread is the limit: the main thread near 100% is the relay's ceiling, whatever
      // the cores; the verify workers near 100% (each) want more cores.
      lineChart({
        ...common,
        title: 'Threads busy (% of the time, per thread)',
        unit: '%',
        series: Object.entries(s.busy ?? {}).map(([name, values]) => ({ name, values })),
      }),
      // The main thread's own CPU per event sets the ceiling whatever the cores (at 100 µs it is
      // full at 10,000 events a second); unlike busy time, waiting for a core does not raise it.
      lineChart({
        ...common,
        title: 'Main thread CPU per event (µs)',
        unit: ' µs',
        series: s.mainUsPerEvent ? [{ name: 'main', values: s.mainUsPerEvent }] : [],
      }),
    )
  }
  every(10_000, ctx.signal, refresh, ctx.failed)
}
