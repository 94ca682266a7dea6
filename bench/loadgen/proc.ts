// What the load generator reads about the relay process from /proc (Linux): CPU time in total
// and per thread (grouped by thread name, the main thread on its own), resident memory now and
// at its peak. Clock ticks are taken as 100 per second (Linux's USER_HZ).
import { readdir, readFile } from 'node:fs/promises'

const TICKS_PER_SECOND = 100

export interface CpuSnapshot {
  readonly atMs: number
  /** utime + stime of the whole process, in seconds. */
  readonly total: number
  /** Per thread id: its name and CPU seconds. */
  readonly threads: ReadonlyMap<number, { readonly name: string; readonly seconds: number }>
}

/** utime + stime (seconds) and the name from a /proc stat line. */
function parseStat(line: string): { name: string; seconds: number } {
  const open = line.indexOf('(')
  const close = line.lastIndexOf(')')
  const name = line.slice(open + 1, close)
  const fields = line.slice(close + 2).split(' ')
  // After the name: state is field 3 of the man page, utime 14 and stime 15.
  const utime = Number(fields[11])
  const stime = Number(fields[12])
  return { name, seconds: (utime + stime) / TICKS_PER_SECOND }
}

export async function cpuSnapshot(pid: number): Promise<CpuSnapshot> {
  const atMs = performance.now()
  const total = parseStat(await readFile(`/proc/${pid}/stat`, 'utf8')).seconds
  const threads = new Map<number, { name: string; seconds: number }>()
  for (const tid of await readdir(`/proc/${pid}/task`)) {
    try {
      threads.set(Number(tid), parseStat(await readFile(`/proc/${pid}/task/${tid}/stat`, 'utf8')))
    } catch {
      // the thread ended meanwhile
    }
  }
  return { atMs, total, threads }
}

/**
 * Cores used between two snapshots: in total, by the main thread (`main`), and by every other
 * thread name (worker threads, libuv's pool, V8's helpers), summed.
 */
export function coresBetween(
  pid: number,
  a: CpuSnapshot,
  b: CpuSnapshot,
): { total: number; byThread: Record<string, number> } {
  const seconds = (b.atMs - a.atMs) / 1000
  const byThread: Record<string, number> = {}
  for (const [tid, t] of b.threads) {
    const before = a.threads.get(tid)?.seconds ?? 0
    const name = tid === pid ? 'main' : t.name
    byThread[name] = (byThread[name] ?? 0) + (t.seconds - before) / seconds
  }
  for (const k of Object.keys(byThread)) byThread[k] = round(byThread[k]!, 3)
  return { total: round((b.total - a.total) / seconds, 3), byThread }
}

/** Resident memory now and the peak so far (VmHWM), in bytes. */
export async function memory(pid: number): Promise<{ rss: number; hwm: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const field = (name: string) =>
    Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1]) * 1024
  return { rss: field('VmRSS'), hwm: field('VmHWM') }
}

export function round(n: number, digits: number): number {
  const f = 10 ** digits
  return Math.round(n * f) / f
}
