// Runs the relay as a real child process (`node src/main.ts serve ...`), so tests can stop it with
// SIGTERM or kill it with SIGKILL and start it again on the same data directory.
import { type ChildProcess, spawn } from 'node:child_process'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { ADMIN_KEY } from './relay-harness.ts'

const MAIN = join(import.meta.dirname, '../../src/main.ts')

export interface RelayProcess {
  readonly child: ChildProcess
  readonly url: string
  readonly wsUrl: string
  readonly logs: string[]
  /** Resolves with the exit code or signal. */
  readonly exited: Promise<number | string>
  crawl(hostname: string): Promise<Response>
}

export async function startRelayProcess(
  dir: string,
  plcUrl: string,
  extraFlags: string[] = [],
): Promise<RelayProcess> {
  const args = [
    MAIN,
    'serve',
    '--bind',
    '127.0.0.1:0',
    '--metrics-listen',
    '127.0.0.1:0',
    '--persist-dir',
    join(dir, 'persist'),
    '--db-url',
    `sqlite://${join(dir, 'relay.sqlite')}`,
    '--plc-host',
    plcUrl,
    '--allow-insecure-hosts',
    '--admin-password',
    ADMIN_KEY,
    '--verify-workers',
    '1',
    '--log-level',
    'info',
    ...extraFlags,
  ]
  const child = spawn(process.execPath, args, {
    cwd: dir,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { PATH: process.env.PATH ?? '' },
  })
  const logs: string[] = []
  const exited = new Promise<number | string>((resolve) =>
    child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)),
  )
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`relay did not start:\n${logs.join('\n')}`)),
      20_000,
    )
    createInterface({ input: child.stderr! }).on('line', (line) => {
      logs.push(line)
      try {
        const entry = JSON.parse(line) as { msg?: string; address?: { port: number } }
        if (entry.msg === 'relay started' && entry.address) {
          clearTimeout(timer)
          resolve(entry.address.port)
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
  const url = `http://127.0.0.1:${port}`
  return {
    child,
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
