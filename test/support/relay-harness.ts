// Builds a real relay for end-to-end tests: temp data dir, SQLite, the API on 127.0.0.1:0, the
// PLC directory given, local insecure hosts allowed (unless a test asks for production rules), a
// test admin key; and a consumer that reads its firehose over a real WebSocket.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { WebSocket } from 'ws'
import { loadConfig } from '../../src/config/index.ts'
import { silentLogger } from '../../src/observability/logger.ts'
import { decodeFrame, type Frame } from '../../src/protocol/frame.ts'
import { createRelay, type Relay, type RelayOverrides } from '../../src/relay.ts'

export const ADMIN_KEY = 'test-admin-key'

/**
 * The relay's flags for host threads beside account shards (docs/scaling.md stage 2): two
 * shards and one host thread, the smallest split that has every kind of thread.
 */
export const HOST_THREAD_FLAGS = ['--account-shards', '2', '--upstream-threads', '1'] as const

/**
 * Where the hosts' links run, for tests that must hold in both: the relay's main thread (as it
 * starts by default), or a host thread beside account shards. A suffix for the test's name,
 * and the flags.
 */
export const LINK_LAYOUTS = [
  ['', []],
  [' (host threads)', HOST_THREAD_FLAGS],
] as const

/**
 * Every event verified on the main thread, none in a worker (`--verify-workers 0`). Test relays
 * started here verify in the workers unless told otherwise (`--verify-on-main 0` below): the
 * relay's own choice between the two follows how busy its main thread is, which a test cannot
 * pin down. A suffix for the test's name, and the flags.
 */
export const MAIN_THREAD_VERIFY = [
  ' (verified on the main thread)',
  ['--verify-workers', '0'],
] as const

export interface TestRelay {
  readonly relay: Relay
  readonly dir: string
  readonly url: string
  readonly wsUrl: string
  /** POST /admin/pds/requestCrawl with the admin key. */
  crawl(hostname: string): Promise<Response>
  close(opts?: { keepDir?: boolean }): Promise<void>
}

export async function startTestRelay(opts: {
  plcUrl: string
  flags?: string[]
  dir?: string
  overrides?: RelayOverrides
  /** Admin keys (default: [ADMIN_KEY]; [] turns the admin API off). */
  adminKeys?: string[]
  /** `false`: run without --allow-insecure-hosts, as in production (the SSRF tests). */
  insecureHosts?: boolean
}): Promise<TestRelay> {
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), 'relay-e2e-')))
  const argv = [
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
    opts.plcUrl,
    ...(opts.insecureHosts === false ? [] : ['--allow-insecure-hosts']),
    ...(opts.adminKeys ?? [ADMIN_KEY]).flatMap((k) => ['--admin-password', k]),
    '--verify-workers',
    '1',
    '--verify-on-main',
    '0',
    ...(opts.flags ?? []),
  ]
  const config = loadConfig(argv, {}, dir)
  const relay = await createRelay(config, silentLogger(), {
    checkpointIntervalMs: 200,
    resubscribeSpreadMs: 0,
    ...opts.overrides,
  })
  try {
    await relay.start()
  } catch (err) {
    await relay.stop().catch(() => {})
    throw err
  }
  const url = `http://127.0.0.1:${relay.address().port}`
  return {
    relay,
    dir,
    url,
    wsUrl: url.replace('http', 'ws'),
    crawl: (hostname) =>
      fetch(`${url}/admin/pds/requestCrawl`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_KEY}` },
        body: JSON.stringify({ hostname }),
      }),
    close: async (o) => {
      await relay.stop()
      if (!o?.keepDir) await rm(dir, { recursive: true, force: true })
    },
  }
}

/** A firehose consumer: collects decoded frames (with their raw bytes) as they arrive. */
export class Consumer {
  readonly frames: { frame: Frame; bytes: Uint8Array }[] = []
  readonly ws: WebSocket
  closed = false
  readonly #waiters = new Set<() => void>()

  constructor(wsUrl: string, cursor?: number) {
    const q = cursor === undefined ? '' : `?cursor=${cursor}`
    this.ws = new WebSocket(`${wsUrl}/xrpc/com.atproto.sync.subscribeRepos${q}`)
    this.ws.on('message', (data: Buffer) => {
      const bytes = new Uint8Array(data)
      this.frames.push({ frame: decodeFrame(bytes), bytes })
      for (const w of this.#waiters) w()
    })
    this.ws.on('close', () => {
      this.closed = true
      for (const w of this.#waiters) w()
    })
  }

  opened(): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.ws.readyState === WebSocket.OPEN) return resolve()
      this.ws.once('open', () => resolve())
      this.ws.once('error', reject)
    })
  }

  /** Message frames only, as [type, body]. */
  messages(): { type: string; body: Record<string, unknown> }[] {
    return this.frames.flatMap(({ frame }) =>
      frame.op === 1 ? [{ type: frame.type, body: frame.body }] : [],
    )
  }

  /** Waits until `predicate` holds (checked on every frame), or fails after `timeoutMs`. */
  async until(predicate: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
    if (predicate()) return
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(check)
        reject(new Error(`timed out waiting for ${what} (have ${this.frames.length} frames)`))
      }, timeoutMs)
      const check = () => {
        if (!predicate()) return
        clearTimeout(timer)
        this.#waiters.delete(check)
        resolve()
      }
      this.#waiters.add(check)
    })
  }

  close(): void {
    this.ws.close()
  }
}

/**
 * Subscribes from `cursor`, reads `count` `#commit` events (20 s at most; `logs`, the relay's,
 * are printed when they do not come), and leaves: each one's relay seq and commit CID.
 */
export async function readCommits(
  wsUrl: string,
  cursor: number,
  count: number,
  logs: readonly string[] = [],
): Promise<{ seq: number; commit: string }[]> {
  const consumer = new Consumer(wsUrl, cursor)
  await consumer.opened()
  await consumer
    .until(() => consumer.messages().length >= count, 20_000, `${count} events`)
    .catch((err: unknown) => {
      console.error(logs.slice(-30).join('\n'))
      throw err
    })
  consumer.close()
  return consumer.messages().map((m) => {
    if (m.type !== '#commit') throw new Error(`expected only #commit events, got ${m.type}`)
    return { seq: m.body.seq as number, commit: (m.body.commit as { $link: string }).$link }
  })
}

/** Polls `predicate` until true or the timeout (for state not signalled by frames). */
export async function eventually(
  predicate: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!(await predicate())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}
