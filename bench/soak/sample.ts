// What the soak samples from the relay process: resident memory and open file descriptors from
// /proc (Linux), heap and the relay's counters from its /metrics, and the bytes on disk of its
// event log and database.
import { readdir, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'

/**
 * Resident set size in bytes (all, and its anonymous part: heaps, buffers, malloc arenas, not
 * mapped files), threads and the number of open file descriptors.
 */
export async function procStats(
  pid: number,
): Promise<{ rss: number; anon: number; threads: number; fds: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const field = (name: string) => {
    const m = new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)
    return m ? Number(m[1]) : Number.NaN
  }
  const fds = (await readdir(`/proc/${pid}/fd`)).length
  return {
    rss: field('VmRSS') * 1024,
    anon: field('RssAnon') * 1024,
    threads: field('Threads'),
    fds,
  }
}

/** Resident bytes by kind of mapping, from /proc/<pid>/smaps. */
export interface RssParts {
  /** Anonymous mappings of exactly 256 KiB: V8's heap pages (both isolates, unmerged ones). */
  readonly v8Pages: number
  /** The main thread's malloc heap (`[heap]`, glibc's main arena). */
  readonly mallocHeap: number
  /** Every other anonymous mapping: other malloc arenas or jemalloc's extents, large buffers. */
  readonly otherAnon: number
  /** Mapped files (the binary, libraries, SQLite's shared memory). */
  readonly files: number
}

const V8_PAGE_KB = 256

/**
 * Splits the resident set by mapping kind, so a growing RSS can be put on V8, malloc or files
 * (the soak's memory verdict needs to know which).
 */
export async function rssParts(pid: number): Promise<RssParts> {
  const text = await readFile(`/proc/${pid}/smaps`, 'utf8')
  const parts = { v8Pages: 0, mallocHeap: 0, otherAnon: 0, files: 0 }
  let kind: keyof RssParts = 'otherAnon'
  for (const line of text.split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line)
    if (head) {
      const name = head[1] ?? ''
      kind =
        name === '[heap]'
          ? 'mallocHeap'
          : name === '' || name.startsWith('[')
            ? 'otherAnon'
            : 'files'
      continue
    }
    if (line.startsWith('Size:') && kind === 'otherAnon') {
      if (Number(/\d+/.exec(line)?.[0]) === V8_PAGE_KB) kind = 'v8Pages'
    } else if (line.startsWith('Rss:')) {
      parts[kind] += Number(/\d+/.exec(line)?.[0] ?? 0) * 1024
    }
  }
  return parts
}

/** Bytes of every file under `dir` (recursively); files whose names start with `prefix` only. */
export async function dirBytes(dir: string, prefix = ''): Promise<number> {
  let total = 0
  let entries: import('node:fs').Dirent[]
  try {
    entries = await readdir(dir, { withFileTypes: true })
  } catch {
    return 0
  }
  for (const e of entries) {
    if (!e.name.startsWith(prefix)) continue
    const path = join(dir, e.name)
    if (e.isDirectory()) total += await dirBytes(path)
    else
      total += await stat(path).then(
        (s) => s.size,
        () => 0,
      )
  }
  return total
}

/** One scrape: every series as `name{labels}` → value. */
export type Scrape = Map<string, number>

export async function scrape(url: string): Promise<Scrape> {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) })
  const text = await res.text()
  const out: Scrape = new Map()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const cut = line.lastIndexOf(' ')
    out.set(line.slice(0, cut), Number(line.slice(cut + 1)))
  }
  return out
}

/** The value of a series without labels (0 when absent). */
export function value(s: Scrape, name: string): number {
  return s.get(name) ?? 0
}

/** A labelled family as label value → number, e.g. drops by reason. */
export function byLabel(s: Scrape, name: string, label: string): Record<string, number> {
  const out: Record<string, number> = {}
  const re = new RegExp(`^${name}\\{(?:.*,)?${label}="([^"]*)"`)
  for (const [series, v] of s) {
    const m = re.exec(series)
    if (m) out[m[1]!] = (out[m[1]!] ?? 0) + v
  }
  return out
}

/** The sum of a family over all its labels. */
export function total(s: Scrape, name: string): number {
  let sum = 0
  for (const [series, v] of s) if (series === name || series.startsWith(`${name}{`)) sum += v
  return sum
}
