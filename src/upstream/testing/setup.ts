// Shared set-up for HostConnection tests: a fake PDS, a recorder, a connection pointed at it
// with short backoff, and cleanup registered on the test context; and the same suite run with
// the socket on this thread and on a socket thread.
// Deliberately not here: any assertion.
import { after, describe, type TestContext } from 'node:test'
import { HostConnection, type HostConnectionOptions } from '../host-connection.ts'
import { SocketThreads } from '../socket-threads.ts'
import { FakePds, type FakePdsOptions } from './fake-pds.ts'
import { Recorder } from './recorder.ts'

export const TEST_USER_AGENT = 'atproto-relay-test/0.1 (+mailto:ops@example.com)'

export interface Rig {
  readonly pds: FakePds
  readonly rec: Recorder
  readonly conn: HostConnection
}

export async function rig(
  t: TestContext,
  opts: Partial<Omit<HostConnectionOptions, 'host' | 'handlers'>> = {},
  pdsOpts: FakePdsOptions = {},
): Promise<Rig> {
  const pds = await FakePds.start(pdsOpts)
  const rec = new Recorder()
  const conn = new HostConnection({
    host: { id: 1, hostname: pds.hostname, ssl: false },
    startCursor: null,
    userAgent: TEST_USER_AGENT,
    handlers: rec,
    backoff: { initialMs: 5, maxMs: 20 },
    ...opts,
  })
  t.after(async () => {
    await conn.stop()
    await pds.close()
  })
  return { pds, rec, conn }
}

export type RigFn = typeof rig

/**
 * Declares a suite twice: with sockets on this thread (the default opener) and on a socket
 * thread (one thread shared by the suite's tests, ended after it). `rig` given to the body
 * dials through that suite's opener unless a test names its own.
 */
export function describeEachSocketPlace(name: string, body: (rig: RigFn) => void): void {
  describe(`${name} (socket on this thread)`, () => body(rig))
  describe(`${name} (socket on a socket thread)`, () => {
    let threads: SocketThreads | undefined
    after(async () => {
      await threads?.close()
    })
    body((t, opts = {}, pdsOpts = {}) => {
      threads ??= new SocketThreads({ threads: 1, allowInsecure: true })
      return rig(t, { sockets: threads, ...opts }, pdsOpts)
    })
  })
}

/** Lets pending I/O callbacks run a number of event-loop turns (no wall-clock wait). */
export async function turns(n = 20): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise<void>((resolve) => setImmediate(resolve))
}

/** Live timers in this process (to check that nothing is left scheduled). */
export function liveTimers(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length
}

/** Waits for `n` ticks of a `ms` interval: lets timers due sooner fire first (timers fire in
 * order of expiry), without asserting anything about elapsed time. */
export async function timerTicks(n: number, ms: number): Promise<void> {
  let ticks = 0
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      if (++ticks === n) {
        clearInterval(timer)
        resolve()
      }
    }, ms)
  })
}
