// Line charts drawn as inline SVG, our own and small: one or more series of numbers sampled every
// `step` seconds (oldest first, newest at the right edge), a y axis from 0 to a rounded maximum,
// a time axis counted back from now, and a legend. No animation, no interaction beyond a hover title.
import { fmtDuration, fmtNumber, h } from './dom.js'

const SVG = 'http://www.w3.org/2000/svg'
const PALETTE = [
  '#2f6fed',
  '#1f8a4c',
  '#c4352b',
  '#a06b00',
  '#7b3fc4',
  '#0b8a96',
  '#c43585',
  '#555',
]
const W = 600
const HGT = 200
const PAD = { left: 48, right: 10, top: 10, bottom: 24 }

function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag)
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v))
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)))
  return el
}

const TICKS = [10, 30, 60, 120, 300, 600, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600]

/** `now`, `-30s`, `-5m`, `-6h`. */
function agoLabel(secs) {
  if (secs === 0) return 'now'
  if (secs < 60) return `-${secs}s`
  if (secs < 3600) return `-${Math.round(secs / 60)}m`
  return `-${Math.round(secs / 3600)}h`
}

/** 0, 1, 2, 5, 10, 20, 50… at or above n. */
function niceMax(n) {
  if (!(n > 0)) return 1
  const p = 10 ** Math.floor(Math.log10(n))
  for (const m of [1, 2, 5, 10]) if (m * p >= n) return m * p
  return 10 * p
}

/**
 * @param {{title: string, step: number, unit?: string, window?: number,
 *   series: {name: string, values: number[]}[]}} opts  window: seconds shown (default 1 h)
 */
export function lineChart(opts) {
  const windowSecs = opts.window ?? 3600
  const points = Math.max(1, Math.round(windowSecs / opts.step))
  const max = niceMax(Math.max(0, ...opts.series.flatMap((x) => x.values)))
  const iw = W - PAD.left - PAD.right
  const ih = HGT - PAD.top - PAD.bottom
  const x = (i, n) => PAD.left + iw - ((n - 1 - i) / Math.max(1, points - 1)) * iw
  const y = (v) => PAD.top + ih - (v / max) * ih
  const svg = s('svg', {
    viewBox: `0 0 ${W} ${HGT}`,
    role: 'img',
    'aria-label': opts.title,
  })
  for (const f of [0, 0.5, 1]) {
    const yy = y(max * f)
    svg.append(
      s('line', { x1: PAD.left, x2: W - PAD.right, y1: yy, y2: yy, stroke: '#dde1e8' }),
      s(
        'text',
        { x: PAD.left - 6, y: yy + 4, 'text-anchor': 'end', 'font-size': 12, fill: '#6b7385' },
        fmtNumber(max * f),
      ),
    )
  }
  // Time labels at a round spacing (1 min, 10 min, 6 h…), at most 6 across, counted back from now.
  const tick = TICKS.find((t) => windowSecs / t <= 6) ?? windowSecs
  for (let ago = 0; ago <= windowSecs; ago += tick) {
    const xx = PAD.left + iw * (1 - ago / windowSecs)
    svg.append(
      s(
        'text',
        { x: xx, y: HGT - 6, 'text-anchor': 'middle', 'font-size': 12, fill: '#6b7385' },
        agoLabel(ago),
      ),
    )
  }
  const legend = h('div.legend')
  opts.series.forEach((ser, k) => {
    const color = PALETTE[k % PALETTE.length]
    const vals = ser.values.slice(-points)
    if (vals.length > 0) {
      const d = vals
        .map((v, i) => `${i === 0 ? 'M' : 'L'}${x(i, vals.length).toFixed(1)},${y(v).toFixed(1)}`)
        .join(' ')
      const path = s('path', { d, fill: 'none', stroke: color, 'stroke-width': 2 })
      path.append(s('title', {}, ser.name))
      svg.append(path)
    }
    const swatch = h('span.swatch')
    swatch.style.background = color
    const last = vals.at(-1)
    legend.append(h('span', {}, swatch, `${ser.name}: ${fmtNumber(last ?? 0)}${opts.unit ?? ''}`))
  })
  if (opts.series.length === 0) legend.append(h('span.muted', {}, 'nothing in this window'))
  // A fresh relay has less history than the window: say so rather than look broken.
  const have = Math.max(0, ...opts.series.map((x) => x.values.length))
  if (opts.series.length > 0 && have < points)
    legend.append(
      h(
        'span.muted',
        {},
        have === 0 ? 'no samples yet' : `history so far: ${fmtDuration(have * opts.step * 1000)}`,
      ),
    )
  return h(
    'div.card.chart',
    { dataset: { chart: opts.title, window: String(windowSecs) } },
    h('h2', {}, opts.title),
    svg,
    legend,
  )
}
