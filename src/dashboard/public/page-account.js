// Account lookup ("why is this account not flowing?"): the relay's view of one DID from
// /admin/repo/status, a refresh that re-resolves its identity and asks its PDS, and a resync that
// fetches its repo from its PDS (account-resync.js). The DID is kept in the address
// (#/account/<did>) so a lookup can be linked to and survives a reload.
import { resyncResultView } from './account-resync.js'
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
  // `before`: an action's answer shown above the account (and its flash kept).
  const lookup = async (before = []) => {
    const did = input.value.trim()
    remember(did)
    try {
      const r = await ctx.api('GET', '/admin/repo/status', { query: { did }, signal: ctx.signal })
      out.replaceChildren(...before, ...accountView(r))
      if (before.length === 0) ctx.flash('')
    } catch (err) {
      // An unknown DID is an answer, not a failure: the message says whether events were dropped.
      if (err instanceof ApiError && err.status === 404) {
        out.replaceChildren(...before, notFoundView(did, err.message))
        if (before.length === 0) ctx.flash('')
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
    h(
      'button',
      {
        type: 'button',
        onclick: async () => {
          if (!form.reportValidity()) return
          const did = input.value.trim()
          const r = await ctx.act(`Resync ${did}`, () =>
            ctx.api('POST', '/admin/repo/resync', { body: { did } }),
          )
          if (!r) return
          // The route answers a failed fetch too (200, result "failed"): not a success to flash.
          await lookup([resyncResultView(r)])
          if (r.result === 'failed') ctx.flash(`Resync ${did}: failed (${r.reason})`, 'bad')
        },
      },
      'Resync account',
    ),
  )
  ctx.root.append(h('h1', {}, 'Account lookup'), form, out)
  if (input.value) lookup()
}
