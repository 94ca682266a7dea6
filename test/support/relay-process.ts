// Runs the relay as a real child process (`node src/main.ts serve ...`), so tests can stop it with
// SIGTERM or kill it with SIGKILL and start it again on the same data directory.
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { ADMIN_KEY } from './relay-harness.ts'

const MAIN = join(import.meta.dirname, '../../src/main.ts')
/** Preloaded as `npm start` does: a relay started again and again strips its code only once. */
const COMPILE_CACHE = join(import.meta.dirname, '../../src/runtime/compile-cache.mjs')

export interface RelayProcess {
  /** The spawned process: the relay, or with `unreaped` the shell parent that never reaps it. */
  readonly child: ChildProcess
  /** The relay's own pid. */
  readonly pid: number
  readonly url: string
  readonly wsUrl: string
  readonly logs: string[]
  /** Resolves with the exit code or signal. */
  readonly exited: Promise<number | string>
  crawl(hostname: string): Promise<Response>
}

export interface RelayProcessOptions {
  /**
   * Start the relay under a parent that never reaps it (`sh` running the relay in the background,
   * then exec-ing `sleep`): once killed, the relay stays a zombie, as under a supervisor that has
   * not collected it yet. `exited` then never resolves; kill `pid` and `child` when done.
   */
  readonly unreaped?: boolean
  /** Leave the bind address and admin key to the `.env` file in `dir` (README walk-throughs). */
  readonly bindAndKeyFromDotenv?: boolean
  /** Environment on top of PATH (the soak's `--relay-env`, e.g. MALLOC_ARENA_MAX). */
  readonly env?: Readonly<Record<string, string>>
  /**
   * Node/V8 flags before the script (e.g. `--trace-gc`); their output goes to our stdout. Without
   * them, only the compile cache's preload.
   */
  readonly nodeFlags?: readonly string[]
  /** The relay's entry, default this checkout's `src/main.ts`: another checkout's, to compare
   * two builds (that checkout must have its dependencies installed). */
  readonly main?: string
}

export async function startRelayProcess(
  dir: string,
  plcUrl: string,
  extraFlags: string[] = [],
  opts: RelayProcessOptions = {},
): Promise<RelayProcess> {
  const args = [
    ...(opts.nodeFlags ?? ['--import', COMPILE_CACHE]),
    opts.main ?? MAIN,
    'serve',
    ...(opts.bindAndKeyFromDotenv ? [] : ['--bind', '127.0.0.1:0', '--admin-password', ADMIN_KEY]),
    '--metrics-listen',
    '127.0.0.1:0',
    '--persist-dir',
    join(dir, 'persist'),
    '--db-url',
    `sqlite://${join(dir, 'relay.sqlite')}`,
    '--plc-host',
    plcUrl,
    '--allow-insecure-hosts',
    '--verify-workers',
    '1',
    '--log-level',
    'info',
    ...extraFlags,
  ]
  const child = opts.unreaped
    ? spawn('/bin/sh', ['-c', '"$0" "$@" & echo $!; exec sleep 3600', process.execPath, ...args], {
        cwd: dir,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { PATH: process.env.PATH ?? '', ...opts.env },
      })
    : spawn(process.execPath, args, {
        cwd: dir,
        stdio: ['ignore', opts.nodeFlags?.length ? 'inherit' : 'ignore', 'pipe'],
        env: { PATH: process.env.PATH ?? '', ...opts.env },
      })
  const pid = opts.unreaped
    ? Number((await once(child.stdout!, 'data'))[0].toString().trim())
    : child.pid!
  const logs: string[] = []
  const exited = new Promise<number | string>((resolve) =>
    child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)),
  )
  const started = new Promise<{ address: string; port: number }>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`relay did not start:\n${logs.join('\n')}`)),
      20_000,
    )
    createInterface({ input: child.stderr! }).on('line', (line) => {
      logs.push(line)
      try {
        const entry = JSON.parse(line) as {
          msg?: string
          address?: { address: string; port: number }
        }
        if (entry.msg === 'relay started' && entry.address) {
          clearTimeout(timer)
          resolve(entry.address)
        }
      } catch {
        // not JSON: keep it in the logs
      }
    })
    void exited.then((code) => {
      clearTimeout(timer)
      reject(new Error(`relay exited (${code}) before starting:\n${logs.join('\n')}`))
    })
  })
  const bound = await started.catch((err: unknown) => {
    // Nothing may outlive a failed start (an unreaped relay's parent would hold our pipes open).
    child.kill('SIGKILL')
    try {
      if (opts.unreaped) process.kill(pid, 'SIGKILL')
    } catch {
      // already gone
    }
    throw err
  })
  const url = `http://${bound.address}:${bound.port}`
  return {
    child,
    pid,
    url,
    wsUrl: url.replace('http', 'ws'),
    logs,
    exited,
    crawl: (hostname) =>
      fetch(`${url}/admin/pds/requestCrawl`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_KEY}` },
        body: JSON.stringify({ hostname }),
      }),
  }
}

/** A port free on `host` right now (for a relay whose address a test writes into its .env). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const server = createServer()
  await new Promise<void>((r) => server.listen(0, host, r))
  const port = (server.address() as { port: number }).port
  await new Promise((r) => server.close(r))
  return port
}
