// Account lookup ("why is this account not flowing?"): the relay's view of one DID from
// /admin/repo/status (host, statuses, rev, throttling, recent drops), with a refresh action.
import { h } from './dom.js'

function facts(obj) {
  const dl = h('dl.facts')
  for (const [k, v] of Object.entries(obj ?? {})) {
    dl.append(
      h('dt', {}, k),
      h('dd', {}, typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)),
    )
  }
  return dl
}

export function renderAccount(ctx) {
  const input = h('input', { name: 'did', placeholder: 'did:plc:…', required: true, size: 40 })
  const out = h('div#account-result')
  const show = (r) => {
    const { account, drops, recentDrops, ...rest } = r ?? {}
    const dropList = drops ?? recentDrops ?? account?.recentDrops
    out.replaceChildren(
      h('div.card', {}, h('h2', {}, 'Account'), facts(account ?? rest)),
      Array.isArray(dropList) && dropList.length > 0
        ? h(
            'div.card',
            {},
            h('h2', {}, 'Recent drops'),
            h('pre', {}, JSON.stringify(dropList, null, 2)),
          )
        : null,
      h(
        'details.card',
        {},
        h('summary', {}, 'Full answer'),
        h('pre', {}, JSON.stringify(r, null, 2)),
      ),
    )
  }
  const lookup = async (e) => {
    e?.preventDefault()
    const did = input.value.trim()
    try {
      show(await ctx.api('GET', '/admin/repo/status', { query: { did }, signal: ctx.signal }))
      ctx.flash('')
    } catch (err) {
      out.replaceChildren()
      ctx.failed(err, did)
    }
  }
  ctx.root.append(
    h('h1', {}, 'Account lookup'),
    h(
      'form.row',
      { onsubmit: lookup },
      input,
      h('button', { type: 'submit' }, 'Look up'),
      h(
        'button',
        {
          type: 'button',
          onclick: async () => {
            const did = input.value.trim()
            const r = await ctx.act(`Refresh ${did}`, () =>
              ctx.api('POST', '/admin/repo/refresh', { query: { did } }),
            )
            if (r) show(r)
          },
        },
        'Refresh from its PDS',
      ),
    ),
    out,
  )
}
