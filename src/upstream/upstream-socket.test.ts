// UpstreamSocket dials through the lookup it is given: the name resolves where the lookup says
// (so the composition root's address guard decides where an upstream host may be reached, on
// every dial), and a lookup that refuses ends the attempt before any connection is made.
import assert from 'node:assert/strict'
import type { AddressInfo, LookupFunction } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { WebSocketServer } from 'ws'
import { publicOnlyLookup } from '../hosts/address.ts'
import { type SocketEnd, UpstreamSocket } from './upstream-socket.ts'

describe('UpstreamSocket lookup', () => {
  let wss: WebSocketServer
  let port = 0
  let connections = 0
  before(async () => {
    wss = new WebSocketServer({ port: 0, host: '127.0.0.1' })
    wss.on('connection', () => connections++)
    await new Promise<void>((r) => wss.once('listening', () => r()))
    port = (wss.address() as AddressInfo).port
  })
  after(() => new Promise<void>((r) => wss.close(() => r())))

  const dial = (lookup: LookupFunction) =>
    new Promise<{ opened: boolean; end: SocketEnd }>((resolve) => {
      let opened = false
      const socket: UpstreamSocket = new UpstreamSocket(
        {
          url: `ws://pds.example.test:${port}/xrpc/com.atproto.sync.subscribeRepos`,
          userAgent: 'test',
          maxFrameBytes: 1000,
          connectTimeoutMs: 2000,
          pingIntervalMs: 10_000,
          frameTimeoutMs: 10_000,
          closeTimeoutMs: 1000,
          now: Date.now,
          lookup,
        },
        {
          upgrade: () => null,
          open: () => {
            opened = true
            socket.close('done')
          },
          received: () => {},
          frame: () => {},
          tooLarge: () => {},
          closed: (end) => resolve({ opened, end }),
        },
      )
    })

  it('connects where the lookup says', async () => {
    const toLoopback: LookupFunction = (_name, options, callback) => {
      if ((options as { all?: boolean }).all) callback(null, [{ address: '127.0.0.1', family: 4 }])
      else callback(null, '127.0.0.1', 4)
    }
    const { opened } = await dial(toLoopback)
    assert.equal(opened, true)
  })

  it('the address guard refuses a name resolving to a private address: no connection', async () => {
    const before = connections
    const refusing = publicOnlyLookup(async () => [{ address: '127.0.0.1', family: 4 }])
    const { opened, end } = await dial(refusing)
    assert.equal(opened, false)
    assert.match(end.error ?? '', /non-public|not public|127\.0\.0\.1/)
    assert.equal(connections, before)
  })
})
