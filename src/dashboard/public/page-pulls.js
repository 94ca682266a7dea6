// Host pulls: start adding the hosts another relay lists, and watch the progress (every 2 s).
import { every, h } from './dom.js'

export function renderPulls(ctx) {
  const from = h('input', {
    name: 'from',
    type: 'url',
    placeholder: 'https://relay.example',
    required: true,
    size: 40,
  })
  const out = h('pre#pull-progress')
  ctx.root.append(
    h('h1', {}, 'Host pulls'),
    h(
      'form.row',
      {
        onsubmit: async (e) => {
          e.preventDefault()
          await ctx.act('Pull hosts', () =>
            ctx.api('POST', '/admin/pds/pullHosts', { body: { from: from.value.trim() } }),
          )
        },
      },
      from,
      h('button', { type: 'submit' }, 'Pull hosts'),
    ),
    h('h2', {}, 'Progress'),
    out,
  )
  every(
    2000,
    ctx.signal,
    async () => {
      const p = await ctx.api('GET', '/admin/pds/pullHosts', { signal: ctx.signal })
      out.textContent = JSON.stringify(p, null, 2)
    },
    ctx.failed,
  )
}
