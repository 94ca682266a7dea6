// Consumers: who is reading the firehose right now, refreshed every 5 s.
import { every, fmtNumber, fmtTime, h } from './dom.js'

export function renderConsumers(ctx) {
  const body = h('tbody')
  const count = h('p.muted')
  ctx.root.append(
    h('h1', {}, 'Consumers'),
    count,
    h(
      'table#consumers',
      {},
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ['ID', 'Address', 'User agent', 'Events sent', 'Cursor', 'State', 'Connected'].map((t) =>
            h('th', {}, t),
          ),
        ),
      ),
      body,
    ),
  )
  every(
    5000,
    ctx.signal,
    async () => {
      const list = await ctx.api('GET', '/admin/consumers/list', { signal: ctx.signal })
      count.textContent = `${list.length} connected`
      body.replaceChildren(
        ...list.map((c) =>
          h(
            'tr',
            { dataset: { consumer: c.id } },
            h('td.num', {}, c.id),
            h('td', {}, c.remote_addr),
            h('td', {}, c.user_agent || '–'),
            h('td.num', {}, fmtNumber(c.events_consumed)),
            h('td.num', {}, c.cursor ?? '–'),
            h('td', {}, c.state ?? ''),
            h('td', {}, fmtTime(c.connected_at)),
          ),
        ),
      )
      if (list.length === 0)
        body.append(h('tr', {}, h('td.muted', { colspan: 7 }, 'No consumers.')))
    },
    ctx.failed,
  )
}
