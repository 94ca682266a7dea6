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
