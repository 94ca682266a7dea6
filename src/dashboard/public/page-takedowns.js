// Takedowns: the accounts taken down (paged with the API's cursor), taking one down and reversing.
import { h } from './dom.js'

export async function renderTakedowns(ctx) {
  const list = h('ul#takedowns')
  const more = h('div.row')
  const input = h('input', { name: 'did', placeholder: 'did:plc:…', required: true, size: 40 })
  const load = async (cursor, append) => {
    const r = await ctx.api('GET', '/admin/repo/takedowns', {
      query: { cursor },
      signal: ctx.signal,
    })
    const items = r.dids.map((did) =>
      h(
        'li',
        { dataset: { did } },
        // The account page says what the relay holds of it (and whether it is still dropped).
        h('a', { href: `#/account/${encodeURIComponent(did)}` }, did),
        ' ',
        h(
          'button',
          {
            type: 'button',
            onclick: async () => {
              await ctx.act(`Reverse takedown of ${did}`, () =>
                ctx.api('POST', '/admin/repo/reverseTakedown', { body: { did } }),
              )
              await load(undefined, false)
            },
          },
          'Reverse',
        ),
      ),
    )
    if (append) list.append(...items)
    else list.replaceChildren(...items)
    if (!append && items.length === 0) list.append(h('li.muted', {}, 'No takedowns.'))
    more.replaceChildren(
      r.cursor
        ? h(
            'button',
            { type: 'button', onclick: () => load(r.cursor, true).catch(ctx.failed) },
            'More',
          )
        : '',
    )
  }
  const form = h(
    'form.row',
    {
      onsubmit: async (e) => {
        e.preventDefault()
        const did = input.value.trim()
        const ok = await ctx.act(`Take down ${did}`, () =>
          ctx.api('POST', '/admin/repo/takeDown', { body: { did } }),
        )
        if (ok) input.value = ''
        await load(undefined, false)
      },
    },
    input,
    h('button.danger', { type: 'submit' }, 'Take down'),
  )
  ctx.root.append(h('h1', {}, 'Takedowns'), form, list, more)
  await load(undefined, false)
}
