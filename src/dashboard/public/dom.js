// DOM helpers for the dashboard pages: an element builder that only ever sets text (never HTML,
// so values from the relay cannot inject markup), and number/time formatting.

/**
 * h('tag#id.class', {attr: value, onclick: fn}, child, ...) → element. Children are nodes or text;
 * null/undefined/false children are skipped.
 */
export function h(spec, attrs, ...children) {
  const [head, ...classes] = spec.split('.')
  const [tag, id] = (head ?? '').split('#')
  const el = document.createElement(tag || 'div')
  if (id) el.id = id
  if (classes.length > 0) el.className = classes.join(' ')
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v)
    else if (k === 'dataset') Object.assign(el.dataset, v)
    else if (k === 'value') el.value = v
    else el.setAttribute(k, v === true ? '' : String(v))
  }
  append(el, children)
  return el
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue
    if (Array.isArray(c)) append(el, c)
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)))
  }
}

export function fmtNumber(n) {
  if (typeof n !== 'number' || !Number.isFinite(n)) return '–'
  if (Math.abs(n) >= 1e6) return `${(n / 1e6).toFixed(1)}M`
  if (Math.abs(n) >= 1e4) return `${(n / 1e3).toFixed(1)}k`
  return Number.isInteger(n) ? String(n) : n.toFixed(1)
}

export function fmtTime(t) {
  if (!t) return '–'
  const d = new Date(t)
  return Number.isNaN(d.getTime()) ? String(t) : d.toLocaleString()
}

/** A labelled form field. */
export function field(label, input) {
  return h('label', {}, label, ' ', input)
}

/** Calls `fn` now and every `ms` until the signal aborts; errors go to `onError`. */
export function every(ms, signal, fn, onError) {
  const run = () => Promise.resolve(fn()).catch((err) => onError(err))
  run()
  const t = setInterval(run, ms)
  signal.addEventListener('abort', () => clearInterval(t))
}

/**
 * Like `every`, but `fn` answers how long to wait before its next call (so a page can poll fast
 * while something runs and slowly otherwise; an error waits `fallbackMs`). Returns `again()`: a
 * call now (after an action; its arguments go to `fn`), which the next wait then follows.
 */
export function poll(signal, fallbackMs, fn, onError) {
  let timer
  const run = async (...args) => {
    clearTimeout(timer)
    let next = fallbackMs
    try {
      next = (await fn(...args)) ?? fallbackMs
    } catch (err) {
      onError(err)
    }
    clearTimeout(timer)
    if (!signal.aborted) timer = setTimeout(() => run(), next)
  }
  signal.addEventListener('abort', () => clearTimeout(timer))
  run()
  return run
}

/** A size for people: `512 B`, `12.3 KiB`, `4.0 MiB`, `1.2 GiB`. */
export function fmtBytes(n) {
  if (typeof n !== 'number' || !Number.isFinite(n)) return '–'
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let v = n
  let i = 0
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  return i === 0 ? `${v} B` : `${v.toFixed(1)} ${units[i]}`
}

/** A duration for people: `<1 s`, `12 s`, `4 min`, `2 h 5 min`, `3 d 4 h`. */
export function fmtDuration(ms) {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) return '–'
  const s = Math.round(Math.abs(ms) / 1000)
  if (s < 1) return '<1 s'
  if (s < 60) return `${s} s`
  if (s < 3600) return `${Math.round(s / 60)} min`
  const hours = Math.floor(s / 3600)
  if (hours < 24) {
    const m = Math.floor((s % 3600) / 60)
    return m > 0 ? `${hours} h ${m} min` : `${hours} h`
  }
  const d = Math.floor(hours / 24)
  return hours % 24 > 0 ? `${d} d ${hours % 24} h` : `${d} d`
}

/** `4 min ago` for a past time, `in 4 min` for a future one; '–' for none. */
export function fmtRelative(t, now = Date.now()) {
  const at = t ? new Date(t).getTime() : Number.NaN
  if (Number.isNaN(at)) return '–'
  return at > now ? `in ${fmtDuration(at - now)}` : `${fmtDuration(now - at)} ago`
}

/**
 * A time as a <time> element: local date and time with how long ago (or until) in grey, the exact
 * ISO time as its tooltip. '–' for none (APIs answer null for "never").
 */
export function when(t) {
  const d = t ? new Date(t) : null
  if (!d || Number.isNaN(d.getTime())) return '–'
  return h(
    'time',
    { datetime: d.toISOString(), title: d.toISOString() },
    d.toLocaleString(),
    h('span.muted', {}, ` (${fmtRelative(d)})`),
  )
}

export const yesNo = (b) => (b ? 'yes' : 'no')

/**
 * Labelled facts as a <dl>: rows of [label, value, key]; a value is a node or text, null or
 * undefined shows as '–' (never the word "null"); key becomes data-field (for tests and styling).
 */
export function facts(rows) {
  const dl = h('dl.facts')
  for (const [label, value, key] of rows) {
    dl.append(
      h('dt', {}, label),
      h('dd', { dataset: key ? { field: key } : undefined }, value ?? '–'),
    )
  }
  return dl
}

/** A plain table: header labels and rows of cells (nodes or text); `empty` when no rows. */
export function simpleTable(spec, headers, rows, empty) {
  const body = h('tbody')
  for (const cells of rows)
    body.append(
      h(
        'tr',
        {},
        cells.map((c) => h('td', {}, c ?? '–')),
      ),
    )
  if (rows.length === 0) body.append(h('tr', {}, h('td.muted', { colspan: headers.length }, empty)))
  return h(
    spec,
    {},
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        headers.map((t) => h('th', {}, t)),
      ),
    ),
    body,
  )
}
