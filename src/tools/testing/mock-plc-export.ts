// Test support: a PLC directory's `GET /export` on a loopback port, over a list of operations the
// test builds, plus generators for DIDs and the three operation formats. It serves pages the way
// the reference directory does: createdAt order, ties by CID, `after` exclusive, `count` capped at
// 1000, lines joined by `\n` (no trailing newline). Scripted failures (a status with headers, or a
// dropped connection) can be queued for the next requests. Every request's URL and User-Agent are
// recorded. Loopback only; nothing else of the directory is served.

import { createHash } from 'node:crypto'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface MockExportOp {
  readonly did: string
  readonly cid: string
  readonly createdAt: string
  readonly nullified?: boolean
  readonly operation?: unknown
  /** Served verbatim instead of the JSON of the entry (a malformed line). */
  readonly raw?: string
}

export type ScriptedFailure =
  | { readonly status: number; readonly headers?: Record<string, string>; readonly body?: string }
  | { readonly drop: true }

export interface MockPlcExport {
  readonly url: string
  readonly requests: { readonly url: string; readonly userAgent: string | undefined }[]
  /** The next requests get these answers, in order, before normal pages resume. */
  failNext(...failures: ScriptedFailure[]): void
  /** Adds operations (served in order with the others from the next request on). */
  addOps(...ops: MockExportOp[]): void
  close(): Promise<void>
}

export async function startMockPlcExport(ops: readonly MockExportOp[]): Promise<MockPlcExport> {
  const sorted = [...ops]
  const sort = () =>
    sorted.sort(
      (a, b) =>
        Date.parse(a.createdAt) - Date.parse(b.createdAt) ||
        (a.cid < b.cid ? -1 : a.cid > b.cid ? 1 : 0),
    )
  sort()
  const requests: { url: string; userAgent: string | undefined }[] = []
  const failures: ScriptedFailure[] = []
  const server = createServer((req, res) => {
    requests.push({ url: req.url ?? '', userAgent: req.headers['user-agent'] })
    const failure = failures.shift()
    if (failure !== undefined) {
      if ('drop' in failure) {
        req.socket.destroy()
        return
      }
      res.writeHead(failure.status, failure.headers).end(failure.body ?? '')
      return
    }
    const url = new URL(req.url ?? '/', 'http://mock')
    if (url.pathname !== '/export') {
      res.writeHead(404).end()
      return
    }
    const count = Math.min(Number(url.searchParams.get('count') ?? '1000'), 1000)
    const after = url.searchParams.get('after')
    const afterMs = after === null ? Number.NEGATIVE_INFINITY : Date.parse(after)
    if (!(count >= 1) || Number.isNaN(afterMs)) {
      res.writeHead(400).end('{"message":"bad request"}')
      return
    }
    // Binary search for the first operation after `after` (sorted by createdAt).
    let lo = 0
    let hi = sorted.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (Date.parse(sorted[mid]!.createdAt) > afterMs) hi = mid
      else lo = mid + 1
    }
    const page = sorted.slice(lo, lo + count)
    const lines = page.map((op) =>
      op.raw !== undefined
        ? op.raw
        : JSON.stringify({
            did: op.did,
            operation: op.operation,
            cid: op.cid,
            nullified: op.nullified ?? false,
            createdAt: op.createdAt,
          }),
    )
    res.writeHead(200, { 'content-type': 'application/jsonlines' }).end(lines.join('\n'))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    failNext: (...f) => failures.push(...f),
    addOps: (...more) => {
      sorted.push(...more)
      sort()
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/** A valid-looking did:plc derived from `seed` (base32 of sha-256, as the PLC makes them). */
export function fakeDid(seed: string): string {
  const digest = createHash('sha256').update(seed).digest()
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567'
  let bits = 0
  let value = 0
  let out = ''
  for (const byte of digest) {
    value = (value << 8) | byte
    bits += 8
    while (bits >= 5 && out.length < 24) {
      out += alphabet[(value >>> (bits - 5)) & 31]
      bits -= 5
    }
    value &= (1 << bits) - 1
  }
  return `did:plc:${out}`
}

/** A CID-looking string unique to `seed`. */
export function fakeCid(seed: string): string {
  return `bafyrei${createHash('sha256').update(seed).digest('hex').slice(0, 40)}`
}

/** A current-format operation declaring `endpoint` as the PDS (or no PDS service when null). */
export function plcOperation(endpoint: string | null, handle = 'someone.example.com'): unknown {
  return {
    type: 'plc_operation',
    rotationKeys: ['did:key:zQ3shrotation'],
    verificationMethods: { atproto: 'did:key:zQ3shsigning' },
    alsoKnownAs: [`at://${handle}`],
    services:
      endpoint === null ? {} : { atproto_pds: { type: 'AtprotoPersonalDataServer', endpoint } },
    prev: null,
    sig: 'c2ln',
  }
}

/** A legacy `create` operation (2023) declaring `service` as the PDS. */
export function legacyCreate(service: string, handle = 'someone.bsky.social'): unknown {
  return {
    type: 'create',
    signingKey: 'did:key:zQ3shsigning',
    recoveryKey: 'did:key:zQ3shrecovery',
    handle,
    service,
    prev: null,
    sig: 'c2ln',
  }
}

export function tombstone(): unknown {
  return { type: 'plc_tombstone', prev: 'bafyreiprev', sig: 'c2ln' }
}
