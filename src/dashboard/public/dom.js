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
