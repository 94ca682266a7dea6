// A PDS on loopback that misbehaves on purpose, for the hostile-host tests. Its WebSocket side is
// written by hand (handshake and frame bytes) rather than with `ws`, because the faults worth
// testing are below what a WebSocket library lets a server do: a frame dribbled a few bytes at a
// time while pings are still answered, frames over any size limit, pongs withheld. Each
// subscribeRepos connection runs the test's `script`; `describeServer` answers as the test says
// (well, huge, endless or never).
import { createHash } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11'

/** How `describeServer` answers. */
export type DescribeMode = 'ok' | 'huge' | 'endless' | 'silent'

/** One relay connection to the hostile PDS's subscribeRepos. */
export class HostileConnection {
  readonly cursor: string | null
  readonly closed: Promise<void>
  /** Answer the relay's pings (off: a host that never pongs). */
  answerPings = true
  pingsReceived = 0
  #open = true
  readonly #socket: Socket
  #pending = Buffer.alloc(0)

  constructor(socket: Socket, cursor: string | null) {
    this.#socket = socket
    this.cursor = cursor
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()))
    socket.on('close', () => {
      this.#open = false
    })
    socket.on('error', () => {})
    // An upgraded socket from node:http allows half-open connections: answer the relay's end.
    socket.on('end', () => socket.end())
    socket.on('data', (chunk: Buffer) => this.#read(chunk))
  }

  get open(): boolean {
    return this.#open
  }

  /** One whole binary message. */
  send(payload: Uint8Array): void {
    this.write(frameHeader(0x2, true, payload.byteLength))
    this.write(payload)
  }

  /** One fragment of a message: the first is binary (0x2), the rest continuations (0x0). */
  sendFragment(payload: Uint8Array, first: boolean, fin: boolean): void {
    this.write(frameHeader(first ? 0x2 : 0x0, fin, payload.byteLength))
    this.write(payload)
  }

  /** Raw bytes on the socket (a frame header alone, half a frame, garbage). */
  write(bytes: Uint8Array): void {
    if (this.#open) this.#socket.write(bytes)
  }

  /** Ends the TCP connection at once. */
  destroy(): void {
    this.#socket.destroy()
  }

  /** The client's frames are masked; only pings and closes matter here. */
  #read(chunk: Buffer): void {
    this.#pending = Buffer.concat([this.#pending, chunk])
    for (;;) {
      const b = this.#pending
      if (b.length < 2) return
      const opcode = b[0]! & 0x0f
      let len = b[1]! & 0x7f
      let at = 2
      if (len === 126) {
        if (b.length < 4) return
        len = b.readUInt16BE(2)
        at = 4
      } else if (len === 127) {
        if (b.length < 10) return
        len = Number(b.readBigUInt64BE(2))
        at = 10
      }
      if (b.length < at + 4 + len) return
      const mask = b.subarray(at, at + 4)
      const payload = Buffer.from(b.subarray(at + 4, at + 4 + len))
      for (let i = 0; i < payload.length; i++) payload[i] = payload[i]! ^ mask[i % 4]!
      this.#pending = b.subarray(at + 4 + len)
      if (opcode === 0x9) {
        this.pingsReceived++
        if (this.answerPings) {
          this.write(frameHeader(0xa, true, payload.length))
          this.write(payload)
        }
      } else if (opcode === 0x8) {
        this.write(frameHeader(0x8, true, 0))
        this.#socket.end()
      }
    }
  }
}

/** Runs on each subscribeRepos connection; `pds.connections` already includes `conn`. */
export type Script = (conn: HostileConnection, pds: HostilePds) => void | Promise<void>

export class HostilePds {
  readonly #server: Server
  readonly connections: HostileConnection[] = []
  describe: DescribeMode = 'ok'
  script: Script = () => {}
  describeRequests = 0

  private constructor(server: Server) {
    this.#server = server
  }

  static async start(script?: Script): Promise<HostilePds> {
    const server = createServer()
    const pds = new HostilePds(server)
    if (script) pds.script = script
    server.on('request', (req, res) => pds.#request(req, res))
    server.on('upgrade', (req: IncomingMessage, socket: Socket) => {
      const url = new URL(req.url ?? '/', 'http://x')
      const key = req.headers['sec-websocket-key']
      if (url.pathname !== '/xrpc/com.atproto.sync.subscribeRepos' || typeof key !== 'string') {
        socket.destroy()
        return
      }
      const accept = createHash('sha1')
        .update(key + GUID)
        .digest('base64')
      socket.write(
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
      )
      const conn = new HostileConnection(socket, url.searchParams.get('cursor'))
      pds.connections.push(conn)
      void Promise.resolve()
        .then(() => pds.script(conn, pds))
        .catch(() => conn.destroy())
    })
    await new Promise<void>((resolve) => server.listen(0, 'localhost', resolve))
    return pds
  }

  #request(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://x')
    if (url.pathname !== '/xrpc/com.atproto.server.describeServer') {
      res.writeHead(404).end()
      return
    }
    this.describeRequests++
    const ok = JSON.stringify({ did: 'did:web:localhost', availableUserDomains: ['.test'] })
    switch (this.describe) {
      case 'ok':
        res.writeHead(200, { 'content-type': 'application/json' }).end(ok)
        return
      case 'huge': {
        // 50 MB of valid JSON: a padded answer must be refused by size, not parsed.
        res.writeHead(200, { 'content-type': 'application/json' })
        const pad = Buffer.alloc(1 << 20, 0x20)
        let sent = 0
        const more = (): void => {
          while (sent < 50 && !res.destroyed) {
            sent++
            if (!res.write(pad)) return void res.once('drain', more)
          }
          if (!res.destroyed) res.end(ok)
        }
        res.write('{"pad":"')
        more()
        return
      }
      case 'endless': {
        // A chunked answer that never ends, a little at a time.
        res.writeHead(200, { 'content-type': 'application/json' })
        res.write('{"did":"did:web:localhost","x":"')
        const timer = setInterval(() => {
          if (res.destroyed) clearInterval(timer)
          else res.write('a'.repeat(4096))
        }, 5)
        res.on('close', () => clearInterval(timer))
        return
      }
      case 'silent':
        // Headers never come; the socket stays open until the relay gives up.
        return
    }
  }

  get hostname(): string {
    return `localhost:${(this.#server.address() as AddressInfo).port}`
  }

  get url(): string {
    return `http://${this.hostname}`
  }

  /** The newest connection (throws when there is none). */
  get latest(): HostileConnection {
    const c = this.connections.at(-1)
    if (!c) throw new Error('no connection yet')
    return c
  }

  async close(): Promise<void> {
    for (const c of this.connections) c.destroy()
    this.#server.closeAllConnections()
    await new Promise<void>((resolve) => this.#server.close(() => resolve()))
  }
}

/** A server-to-client frame header (never masked). */
export function frameHeader(opcode: number, fin: boolean, length: number): Buffer {
  const first = (fin ? 0x80 : 0) | opcode
  if (length < 126) return Buffer.from([first, length])
  if (length < 65536) {
    const b = Buffer.alloc(4)
    b[0] = first
    b[1] = 126
    b.writeUInt16BE(length, 2)
    return b
  }
  const b = Buffer.alloc(10)
  b[0] = first
  b[1] = 127
  b.writeBigUInt64BE(BigInt(length), 2)
  return b
}
