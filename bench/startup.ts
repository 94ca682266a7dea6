// `npm run startup`: how fast the relay serves again after a restart with a big database, and
// how gradually it resubscribes to its hosts. It seeds a SQLite database with --accounts accounts
// (default 1,000,000) spread over --hosts hosts (default 3,000), each host a loopback port of
// this process that accepts subscribeRepos and then stays silent, starts the relay as a real
// process on it, and measures: time to the first answered `GET /xrpc/_health` (serving), time to
// its 'relay started' log line, and when the hosts were dialled (first, last, most in any one
// second; how many hosts, and the most dials of one). Prints one JSON line. Nothing here asserts
// on speed.
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'
import { WebSocketServer } from 'ws'
import type { AccountRow } from '../src/db/accounts.ts'
import { openDatabase } from '../src/db/database.ts'
import { freePort } from '../test/support/relay-process.ts'
import { positiveNumber, startScriptNodeFlags } from './harness.ts'

const { values } = parseArgs({
  options: {
    accounts: { type: 'string', default: '1000000' },
    hosts: { type: 'string', default: '3000' },
    'wait-seconds': { type: 'string', default: '120' },
    'keep-data': { type: 'boolean', default: false },
    'relay-flag': { type: 'string', multiple: true, default: [] },
    help: { type: 'boolean', default: false },
  },
})
if (values.help) {
  console.log(`npm run startup -- [options]
  --accounts N       accounts in the database (default 1000000)
  --hosts N          hosts in the database, each a silent loopback PDS (default 3000)
  --wait-seconds N   how long to wait for every host to be dialled (default 120)
  --keep-data        keep the database and event log
  --relay-flag=F     pass F to the relay (repeatable), e.g. --relay-flag=--account-shards=2`)
  process.exit(0)
}
const num = (name: string, v: string | undefined) => positiveNumber('startup', name, v)
const ACCOUNTS = num('accounts', values.accounts)
const HOSTS = num('hosts', values.hosts)
const WAIT_MS = num('wait-seconds', values['wait-seconds']) * 1000
const MAIN = join(import.meta.dirname, '../src/main.ts')

const dir = await mkdtemp(join(tmpdir(), 'relay-startup-'))
const since = () => performance.now()

// The silent hosts: one HTTP server per host, sharing one WebSocket server.
const wss = new WebSocketServer({ noServer: true })
const dials: number[] = []
/** Dials per host (by its index), to tell every host dialled once from a redial plus a miss. */
const dialsByHost: number[] = new Array(HOSTS).fill(0)
let relayStart = 0
const servers: Server[] = []
for (let i = 0; i < HOSTS; i++) {
  const server = createServer((_req, res) => res.writeHead(404).end())
  server.on('upgrade', (req, socket, head) => {
    dials.push(since() - relayStart)
    dialsByHost[i]!++
    wss.handleUpgrade(req, socket, head, () => {})
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  servers.push(server)
}

// The database, seeded as a relay that has run a long time would have it.
const seedStart = since()
const db = await openDatabase({ kind: 'sqlite', path: join(dir, 'relay.sqlite') })
const hostIds: number[] = []
for (const server of servers) {
  const port = (server.address() as { port: number }).port
  const host = await db.hosts.create({
    hostname: `localhost:${port}`,
    ssl: false,
    accountLimit: 1e9,
    cursor: 1000,
  })
  hostIds.push(host.id)
}
const T0 = '2026-11-01T00:00:00.000Z'
for (let start = 0; start < ACCOUNTS; start += 1000) {
  const rows: AccountRow[] = []
  for (let i = start; i < Math.min(start + 1000, ACCOUNTS); i++)
    rows.push({
      did: `did:plc:${i.toString(36).padStart(24, 'a')}`,
      hostId: hostIds[i % hostIds.length] ?? 1,
      localStatus: i % 1000 === 0 ? 'takendown' : 'active',
      upstreamStatus: 'active',
      rev: '3m2aaaaaaaaaa',
      commitCid: 'bafyreihffx5a2e7k5uwrmmgofbvzujc5cmw5h4espouwuxt3liqoflx3ee',
      dataCid: 'bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm',
      handle: null,
      createdAt: T0,
      updatedAt: T0,
    })
  await db.accounts.upsertMany(rows)
}
await db.close()
const seedSeconds = (since() - seedStart) / 1000
console.error(`seeded ${ACCOUNTS} accounts and ${HOSTS} hosts in ${seedSeconds.toFixed(1)} s`)

// The relay, started as `npm start` starts it.
const port = await freePort()
await mkdir(join(dir, 'persist'), { recursive: true })
relayStart = since()
const relay: ChildProcess = spawn(
  process.execPath,
  [
    ...(await startScriptNodeFlags()),
    MAIN,
    'serve',
    ...['--bind', `127.0.0.1:${port}`, '--metrics-listen', '127.0.0.1:0'],
    ...['--db-url', `sqlite://${join(dir, 'relay.sqlite')}`],
    ...['--persist-dir', join(dir, 'persist'), '--plc-host', 'http://127.0.0.1:9'],
    ...['--allow-insecure-hosts', '--log-level', 'info'],
    ...values['relay-flag'],
  ],
  { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], env: { PATH: process.env.PATH ?? '' } },
)
let startedMs: number | null = null
const logLines: string[] = []
createInterface({ input: relay.stderr! }).on('line', (line) => {
  if (logLines.length < 200) logLines.push(line)
  if (startedMs === null && line.includes('"relay started"')) startedMs = since() - relayStart
})
const exited = once(relay, 'exit')

let servingMs: number | null = null
while (
  servingMs === null &&
  relay.exitCode === null &&
  relay.signalCode === null &&
  since() - relayStart < WAIT_MS
) {
  const ok = await fetch(`http://127.0.0.1:${port}/xrpc/_health`)
    .then((r) => r.ok)
    .catch(() => false)
  if (ok) servingMs = since() - relayStart
  else await new Promise((r) => setTimeout(r, 20))
}
while (
  dialsByHost.filter((n) => n > 0).length < HOSTS &&
  relay.exitCode === null &&
  relay.signalCode === null &&
  since() - relayStart < WAIT_MS
)
  await new Promise((r) => setTimeout(r, 100))
// A few seconds more, to see any redial.
await new Promise((r) => setTimeout(r, 3000))

const perSecond = new Map<number, number>()
for (const t of dials)
  perSecond.set(Math.floor(t / 1000), (perSecond.get(Math.floor(t / 1000)) ?? 0) + 1)
const rssMB = await relayRssMB(relay.pid)
relay.kill('SIGTERM')
await exited
for (const server of servers) server.close()
for (const ws of wss.clients) ws.terminate()
if (!values['keep-data']) await rm(dir, { recursive: true, force: true })

const result = {
  date: new Date().toISOString(),
  accounts: ACCOUNTS,
  hosts: HOSTS,
  seedSeconds: round(seedSeconds),
  servingSeconds: servingMs === null ? null : round(servingMs / 1000),
  startedSeconds: startedMs === null ? null : round(startedMs / 1000),
  hostsDialled: dialsByHost.filter((n) => n > 0).length,
  mostDialsOfOneHost: Math.max(0, ...dialsByHost),
  firstDialSeconds: dials.length ? round(Math.min(...dials) / 1000) : null,
  lastDialSeconds: dials.length ? round(Math.max(...dials) / 1000) : null,
  mostDialsInOneSecond: Math.max(0, ...perSecond.values()),
  rssMB,
}
console.log(JSON.stringify(result))
if (servingMs === null) console.error(logLines.join('\n'))
process.exit(servingMs === null ? 1 : 0)

function round(x: number): number {
  return Math.round(x * 100) / 100
}

async function relayRssMB(pid: number | undefined): Promise<number | null> {
  if (pid === undefined) return null
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '')
  const kb = /VmRSS:\s+(\d+)/.exec(status)?.[1]
  return kb ? Math.round(Number(kb) / 1024) : null
}
