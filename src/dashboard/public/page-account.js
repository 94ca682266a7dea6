// Account lookup ("why is this account not flowing?"): the relay's view of one DID from
// /admin/repo/status, and a refresh that re-resolves its identity and asks its PDS. The DID is
// kept in the address (#/account/<did>) so a lookup can be linked to and survives a reload.
import { accountView, notFoundView, refreshView } from './account-view.js'
import { ApiError } from './api.js'
import { h } from './dom.js'

export function renderAccount(ctx) {
  const input = h('input', {
    name: 'did',
    placeholder: 'did:plc:…',
    required: true,
    size: 40,
    value: ctx.arg ?? '',
  })
  const out = h('div#account-result')
  const remember = (did) => history.replaceState(null, '', `#/account/${encodeURIComponent(did)}`)
  const lookup = async () => {
    const did = input.value.trim()
    remember(did)
    try {
      const r = await ctx.api('GET', '/admin/repo/status', { query: { did }, signal: ctx.signal })
      out.replaceChildren(...accountView(r))
      ctx.flash('')
    } catch (err) {
      // An unknown DID is an answer, not a failure: the message says whether events were dropped.
      if (err instanceof ApiError && err.status === 404) {
        out.replaceChildren(notFoundView(did, err.message))
        ctx.flash('')
        return
      }
      out.replaceChildren()
      ctx.failed(err, did)
    }
  }
  const form = h(
    'form.row',
    {
      onsubmit: (e) => {
        e.preventDefault()
        lookup()
      },
    },
    input,
    h('button', { type: 'submit' }, 'Look up'),
    h(
      'button',
      {
        type: 'button',
        onclick: async () => {
          if (!form.reportValidity()) return
          const did = input.value.trim()
          remember(did)
          const r = await ctx.act(`Refresh ${did}`, () =>
            ctx.api('POST', '/admin/repo/refresh', { query: { did } }),
          )
          if (r) out.replaceChildren(...refreshView(r))
        },
      },
      'Refresh from its PDS',
    ),
  )
  ctx.root.append(h('h1', {}, 'Account lookup'), form, out)
  if (input.value) lookup()
}
