// Domain bans: the list, banning a domain (and its subdomains) and lifting a ban.
import { h } from './dom.js'

export async function renderBans(ctx) {
  const list = h('ul#bans')
  const input = h('input', { name: 'domain', placeholder: 'example.com', required: true })
  const load = async () => {
    const r = await ctx.api('GET', '/admin/subs/listDomainBans', { signal: ctx.signal })
    list.replaceChildren(
      ...r.banned_domains.map((d) =>
        h(
          'li',
          { dataset: { domain: d } },
          `${d} `,
          h(
            'button',
            {
              type: 'button',
              onclick: async () => {
                await ctx.act(`Unban ${d}`, () =>
                  ctx.api('POST', '/admin/subs/unbanDomain', { body: { Domain: d } }),
                )
                await load()
              },
            },
            'Unban',
          ),
        ),
      ),
    )
    if (r.banned_domains.length === 0) list.append(h('li.muted', {}, 'No banned domains.'))
  }
  const form = h(
    'form.row',
    {
      onsubmit: async (e) => {
        e.preventDefault()
        const domain = input.value.trim()
        const ok = await ctx.act(`Ban ${domain}`, () =>
          ctx.api('POST', '/admin/subs/banDomain', { body: { Domain: domain } }),
        )
        if (ok) input.value = ''
        await load()
      },
    },
    input,
    h('button', { type: 'submit' }, 'Ban domain'),
  )
  ctx.root.append(
    h('h1', {}, 'Domain bans'),
    h(
      'p.muted',
      {},
      'A ban covers the domain and every subdomain; matching hosts are disconnected.',
    ),
    form,
    list,
  )
  await load()
}
