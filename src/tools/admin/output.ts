// Text output for `relay admin`: lines, aligned tables, a readable rendering of any JSON value
// (for answers whose shape the contract leaves open), and safe readers for fields of untyped
// JSON. Deliberately not here: which fields a command shows (the commands choose).

export interface TextSink {
  write(text: string): unknown
}

export class Output {
  readonly #sink: TextSink

  constructor(sink: TextSink) {
    this.#sink = sink
  }

  line(text = ''): void {
    this.#sink.write(`${text}\n`)
  }

  /** The raw answer, pretty-printed (`--json`). */
  json(value: unknown): void {
    this.line(JSON.stringify(value === undefined ? null : value, null, 2))
  }

  /** Columns padded to the widest cell; columns listed in `right` are right-aligned. */
  table(
    headers: readonly string[],
    rows: readonly (readonly string[])[],
    right: readonly number[] = [],
  ): void {
    const widths = headers.map((h, i) =>
      Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)),
    )
    const render = (cells: readonly string[]): string =>
      cells
        .map((c, i) => {
          const w = widths[i] ?? 0
          return right.includes(i) ? c.padStart(w) : c.padEnd(w)
        })
        .join('  ')
        .trimEnd()
    this.line(render(headers))
    for (const row of rows) this.line(render(row))
  }

  /** `key: value` lines for an object (nested objects indented), or the value itself. */
  summary(value: unknown): void {
    for (const l of summaryLines(value)) this.line(l)
  }
}

/** The lines of `Output.summary`: YAML-like, nested values indented by two spaces. */
export function summaryLines(value: unknown): string[] {
  if (Array.isArray(value)) {
    if (value.length === 0) return ['(none)']
    return value.flatMap((item) => {
      const inner = isRecord(item) || Array.isArray(item) ? summaryLines(item) : [scalar(item)]
      return inner.map((l, i) => (i === 0 ? `- ${l}` : `  ${l}`))
    })
  }
  if (!isRecord(value)) return [scalar(value)]
  const lines: string[] = []
  for (const [k, v] of Object.entries(value)) {
    if (isRecord(v) || (Array.isArray(v) && v.some((x) => isRecord(x) || Array.isArray(x)))) {
      lines.push(`${k}:`, ...summaryLines(v).map((l) => `  ${l}`))
    } else if (Array.isArray(v)) {
      lines.push(`${k}: ${v.length === 0 ? '(none)' : v.map(scalar).join(', ')}`)
    } else {
      lines.push(`${k}: ${scalar(v)}`)
    }
  }
  return lines
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function scalar(v: unknown): string {
  if (v === null || v === undefined) return '-'
  if (typeof v === 'string') return v
  if (typeof v === 'number' || typeof v === 'boolean') return String(v)
  return JSON.stringify(v)
}

/** A field of an untyped JSON object, if it is a string. */
export function str(o: unknown, key: string): string | undefined {
  const v = isRecord(o) ? o[key] : undefined
  return typeof v === 'string' ? v : undefined
}

/** A field of an untyped JSON object, if it is a finite number. */
export function num(o: unknown, key: string): number | undefined {
  const v = isRecord(o) ? o[key] : undefined
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined
}

export function bool(o: unknown, key: string): boolean | undefined {
  const v = isRecord(o) ? o[key] : undefined
  return typeof v === 'boolean' ? v : undefined
}

export function field(o: unknown, key: string): unknown {
  return isRecord(o) ? o[key] : undefined
}

/** `1234567` → `1,234,567`; undefined → `-`. */
export function count(n: number | undefined): string {
  return n === undefined ? '-' : n.toLocaleString('en-US')
}

/** `1 host`, `2 hosts`. */
export function plural(n: number, noun: string): string {
  return `${count(n)} ${noun}${n === 1 ? '' : 's'}`
}

/** Cuts a cell to `max` characters, marking the cut. */
export function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`
}

/** How long ago an ISO time was, coarsely (`5m ago`), or the text itself if unparsable. */
export function ago(iso: string | undefined, now: number): string {
  if (iso === undefined) return '-'
  const t = Date.parse(iso)
  if (Number.isNaN(t)) return iso
  const s = Math.max(0, Math.round((now - t) / 1000))
  if (s < 60) return `${s}s ago`
  if (s < 3600) return `${Math.floor(s / 60)}m ago`
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`
  return `${Math.floor(s / 86400)}d ago`
}

/** `1536` → `1.5 KiB`; bytes below 1 KiB as `512 B`; undefined → `-`. */
export function bytes(n: number | undefined): string {
  if (n === undefined) return '-'
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB']
  let v = n
  let i = 0
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  return i === 0
    ? `${count(v)} B`
    : `${(Math.round(v * 10) / 10).toLocaleString('en-US')} ${units[i]}`
}
