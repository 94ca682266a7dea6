// Settings changed at run time: the public requestCrawl switch, new hosts per day, and trusted
// domains (each persisted by the relay).
import { field, h } from './dom.js'

export async function renderSettings(ctx) {
  const enabled = h('input', { type: 'checkbox', name: 'enabled' })
  const limit = h('input', { type: 'number', name: 'limit', min: 0 })
  const trusted = h('ul#trusted')
  const domain = h('input', { name: 'domain', placeholder: 'example.com', required: true })
  const load = async () => {
    const [e, l, t] = await Promise.all([
      ctx.api('GET', '/admin/subs/getEnabled', { signal: ctx.signal }),
      ctx.api('GET', '/admin/subs/perDayLimit', { signal: ctx.signal }),
      ctx.api('GET', '/admin/pds/trustedDomains', { signal: ctx.signal }),
    ])
    enabled.checked = e.enabled
    limit.value = String(l.limit)
    trusted.replaceChildren(
      ...t.trusted_domains.map((d) =>
        h(
          'li',
          { dataset: { domain: d } },
          `${d} `,
          h(
            'button',
            {
              type: 'button',
              onclick: async () => {
                await ctx.act(`Remove ${d}`, () =>
                  ctx.api('POST', '/admin/pds/removeTrustedDomain', { query: { domain: d } }),
                )
                await load()
              },
            },
            'Remove',
          ),
        ),
      ),
    )
    if (t.trusted_domains.length === 0) trusted.append(h('li.muted', {}, 'No trusted domains.'))
  }
  ctx.root.append(
    h('h1', {}, 'Settings'),
    h(
      'form.card.row',
      {
        onsubmit: async (e) => {
          e.preventDefault()
          await ctx.act('Public crawl switch', () =>
            ctx.api('POST', '/admin/subs/setEnabled', { query: { enabled: enabled.checked } }),
          )
          await load()
        },
      },
      field('Public requestCrawl enabled', enabled),
      h('button', { type: 'submit' }, 'Save'),
    ),
    h(
      'form.card.row',
      {
        onsubmit: async (e) => {
          e.preventDefault()
          await ctx.act('New hosts per day', () =>
            ctx.api('POST', '/admin/subs/setPerDayLimit', { query: { limit: limit.value } }),
          )
          await load()
        },
      },
      field('New hosts per day (public requestCrawl)', limit),
      h('button', { type: 'submit' }, 'Save'),
    ),
    h(
      'div.card',
      {},
      h('h2', {}, 'Trusted domains'),
      trusted,
      h(
        'form.row',
        {
          onsubmit: async (e) => {
            e.preventDefault()
            const d = domain.value.trim()
            const ok = await ctx.act(`Trust ${d}`, () =>
              ctx.api('POST', '/admin/pds/addTrustedDomain', { query: { domain: d } }),
            )
            if (ok) domain.value = ''
            await load()
          },
        },
        domain,
        h('button', { type: 'submit' }, 'Add trusted domain'),
      ),
    ),
  )
  await load()
}
