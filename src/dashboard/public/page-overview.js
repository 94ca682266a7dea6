// Overview: live charts of the last hour from /admin/stats (events in/out per second, consumers,
// drops by reason), refreshed every 10 s, with a few headline numbers above them.
import { lineChart } from './chart.js'
import { every, fmtNumber, h } from './dom.js'

export function renderOverview(ctx) {
  const tiles = h('div.tiles')
  const charts = h('div.charts')
  ctx.root.append(h('h1', {}, 'Overview'), tiles, charts)
  every(
    10_000,
    ctx.signal,
    async () => {
      const [stats, hosts, consumers] = await Promise.all([
        ctx.api('GET', '/admin/stats', {
          query: { window: '1h', step: '10s' },
          signal: ctx.signal,
        }),
        ctx.api('GET', '/admin/pds/list', { signal: ctx.signal }),
        ctx.api('GET', '/admin/consumers/list', { signal: ctx.signal }),
      ])
      const s = stats.series
      const tile = (label, value) => h('div.tile', {}, label, h('b', {}, value))
      tiles.replaceChildren(
        tile('Hosts', fmtNumber(hosts.length)),
        tile('Connected', fmtNumber(hosts.filter((x) => x.HasActiveConnection).length)),
        tile('Consumers', fmtNumber(consumers.length)),
        tile('Events in /s', fmtNumber(s.eventsIn.at(-1) ?? 0)),
        tile('Events out /s', fmtNumber(s.eventsOut.at(-1) ?? 0)),
      )
      charts.replaceChildren(
        lineChart({
          title: 'Events per second',
          step: stats.step,
          unit: '/s',
          series: [
            { name: 'in', values: s.eventsIn },
            { name: 'out', values: s.eventsOut },
          ],
        }),
        lineChart({
          title: 'Consumers',
          step: stats.step,
          series: [{ name: 'connected', values: s.consumers }],
        }),
        lineChart({
          title: 'Drops per second by reason',
          step: stats.step,
          unit: '/s',
          series: Object.entries(s.drops).map(([name, values]) => ({ name, values })),
        }),
      )
    },
    ctx.failed,
  )
}
