// Test support for the SSRF tests: a loopback listener that counts every connection and
// request (so a test can prove the relay never connected), and the spellings of non-public
// places a crawl request or a did:web identifier may use.
import { createServer, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { type MockPlc, startMockPlc } from '../../src/identity/testing/mock-plc.ts'
import { startTestRelay, type TestRelay } from './relay-harness.ts'

/** A loopback server that counts every connection and request it gets (127.0.0.1 and ::1). */
export class Listener {
  readonly #servers: Server[] = []
  connections = 0
  readonly requests: string[] = []
  port = 0
  handler: (path: string, res: ServerResponse) => void = (_p, res) => res.writeHead(404).end()

  static async start(): Promise<Listener> {
    const l = new Listener()
    const make = () => {
      const s = createServer((req, res) => {
        l.requests.push(req.url ?? '')
        l.handler(req.url ?? '', res)
      })
      s.on('connection', () => {
        l.connections++
      })
      l.#servers.push(s)
      return s
    }
    const v4 = make()
    await new Promise<void>((resolve) => v4.listen(0, '127.0.0.1', resolve))
    l.port = (v4.address() as AddressInfo).port
    // The same port on ::1 too, when the machine has IPv6 loopback, so [::1]:PORT is counted.
    const v6 = make()
    await new Promise<void>((resolve) => {
      v6.once('error', () => resolve())
      v6.listen(l.port, '::1', resolve)
    })
    return l
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`
  }

  async close(): Promise<void> {
    for (const s of this.#servers) {
      s.closeAllConnections()
      if (s.listening) await new Promise<void>((resolve) => s.close(() => resolve()))
    }
  }
}

/** Host names for the non-public places, `P` standing for the listener's port. */
export const SSRF_NAMES: readonly string[] = [
  // loopback by name
  'localhost',
  'localhost:P',
  'LOCALHOST:P',
  'localhost.',
  'localhost.:P',
  'pds.localhost',
  'pds.localhost:P',
  // IPv4 loopback, in every form getaddrinfo or a URL parser reads as 127.0.0.1
  '127.0.0.1',
  '127.0.0.1:P',
  '127.0.0.1.',
  '127.0.0.1.:P',
  '127.1',
  '127.1:P',
  '127.0.1',
  '2130706433',
  '2130706433:P',
  '0177.0.0.1',
  '0177.0.0.1:P',
  '0x7f.0.0.1',
  '0x7f.0.0.1:P',
  '0x7f000001',
  '0x7f.1',
  '017700000001',
  '127.000.000.001',
  '127.0.0.1:80',
  '127.0.0.1:443',
  // IPv6 loopback, IPv4-mapped, IPv4-compatible and NAT64 forms
  '[::1]',
  '[::1]:P',
  '::1',
  '[0:0:0:0:0:0:0:1]:P',
  '[::ffff:127.0.0.1]',
  '[::ffff:127.0.0.1]:P',
  '::ffff:127.0.0.1',
  '::ffff:7f00:1',
  '[::ffff:7f00:1]:P',
  '[::127.0.0.1]:P',
  '[64:ff9b::7f00:1]',
  '[::]',
  '[::1%25lo]:P',
  // private, shared, link-local (cloud metadata), unspecified
  '10.0.0.1',
  '172.16.0.1',
  '192.168.1.1',
  '169.254.169.254',
  '169.254.169.254:80',
  '100.64.0.1',
  '0.0.0.0',
  '0.0.0.0:P',
  '0',
  '0:P',
  'fc00::1',
  '[fc00::1]',
  'fe80::1',
  '[fe80::1]',
  '[fe80::1%25eth0]',
  // internal names
  'metadata.google.internal',
  'metadata',
  'instance-data',
  'printer.local',
  'pds.test',
  'relay.internal',
  'pds.example.com:P',
  // userinfo, paths, queries, fragments, schemes: the authority is the loopback listener
  'user@127.0.0.1',
  'user@127.0.0.1:P',
  'pds.example.com@127.0.0.1:P',
  'admin:pw@localhost:P',
  '127.0.0.1:P/x',
  '127.0.0.1:P/xrpc/com.atproto.server.describeServer',
  'pds.example.com/@127.0.0.1:P',
  'pds.example.com#@127.0.0.1:P',
  'pds.example.com?@127.0.0.1:P',
  'pds.example.com\\@127.0.0.1:P',
  'http://127.0.0.1:P',
  'http://localhost:P/',
  'https://127.0.0.1',
  'ws://localhost:P',
  'wss://[::1]:P',
  'ftp://127.0.0.1:P',
  'file:///etc/passwd',
  '//127.0.0.1:P',
  ' localhost:P ',
  'localhost:P\n',
  // look-alikes a lenient parser might map to ASCII
  '127。0。0。1',
  '１２７.0.0.1',
  'ⓛocalhost:P',
]

/**
 * The stage of the redirect tests: a relay under development rules (the first hop must reach a
 * loopback server), a PLC directory, the `first` listener that answers with redirects and the
 * `target` one that must never be reached.
 */
export interface RedirectStage {
  readonly plc: MockPlc
  readonly relay: TestRelay
  readonly first: Listener
  readonly target: Listener
  close(): Promise<void>
}

export async function redirectStage(): Promise<RedirectStage> {
  const plc = await startMockPlc({})
  const first = await Listener.start()
  const target = await Listener.start()
  const relay = await startTestRelay({ plcUrl: plc.url, overrides: { metrics: false } })
  return {
    plc,
    relay,
    first,
    target,
    async close() {
      await relay.close()
      await first.close()
      await target.close()
      await plc.close()
    },
  }
}
