// The soak's load generator as a child process (load.ts runs in it): started with its options,
// it says where its mock PLC and hosts are, then streams its counts as JSON lines on stdout.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import type { HostRole, LoadOptions, LoadStats } from './load.ts'

const LOAD = join(import.meta.dirname, 'load.ts')

export function git(args: string[]): string {
  try {
    return execFileSync('git', args, { cwd: import.meta.dirname, encoding: 'utf8' }).trim()
  } catch {
    return 'unknown'
  }
}

export async function startLoad(opts: LoadOptions): Promise<{
  child: ChildProcess
  plc: string
  hosts: { hostname: string; role: HostRole }[]
  stats: () => LoadStats | null
  /** The generator has stopped and sent its final counts. */
  finished: () => boolean
}> {
  const child = spawn(process.execPath, [LOAD, JSON.stringify(opts)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  const lines = createInterface({ input: child.stdout! })
  let stats: LoadStats | null = null
  let finished = false
  const first = new Promise<{ plc: string; hosts: { hostname: string; role: HostRole }[] }>(
    (resolve, reject) => {
      lines.on('line', (line) => {
        const msg = JSON.parse(line) as { plc?: string; stats?: LoadStats; final?: boolean }
        if (msg.final) finished = true
        if (msg.stats) stats = msg.stats
        else resolve(msg as { plc: string; hosts: { hostname: string; role: HostRole }[] })
      })
      child.once('exit', (code) => reject(new Error(`load generator exited (${code})`)))
    },
  )
  const started = await first
  return { child, ...started, stats: () => stats, finished: () => finished }
}
