// The API server's streamed answers (repo exports) on real sockets: a client that stops reading
// is cut off after the stall timeout, counted as a `timeout` refusal, and what produced the
// chunks is stopped (its `finally` runs: in a repo export, the read transaction closes); a client
// that reads gets the whole answer.
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { describe, it } from 'node:test'
import { createApiServer, type Route } from './server.ts'

const CHUNK = new Uint8Array(256 * 1024)

async function serve(route: Route) {
  const g = createApiServer({
    routes: [route],
    adminAuth: { enabled: false, check: () => false },
    onUpgrade: (_req, socket) => socket.destroy(),
    onInternalError: () => {},
    guard: { maxConnectionsPerAddr: 0, stallTimeoutMs: 200 },
  })
  await new Promise<void>((r) => g.server.listen(0, '127.0.0.1', r))
  const { port } = g.server.address() as { port: number }
  const close = () => {
    g.server.closeAllConnections()
    return new Promise((r) => g.server.close(r))
  }
  return { g, port, close }
}

describe('streamed answers', () => {
  it('a client that stops reading is cut off, counted, and the producer stopped', async () => {
    let produced = 0
    let stopped = false
    const { g, port, close } = await serve({
      method: 'GET',
      path: '/export',
      handle: () => ({
        stream: (async function* () {
          try {
            for (;;) {
              produced++
              yield CHUNK
            }
          } finally {
            stopped = true
          }
        })(),
      }),
    })
    const socket = connect(port, '127.0.0.1')
    socket.on('error', () => {})
    await new Promise<void>((r) => socket.once('connect', () => r()))
    socket.write('GET /export HTTP/1.1\r\nHost: x\r\n\r\n')
    socket.pause()
    const closed = new Promise<void>((r) => socket.once('close', () => r()))
    // The connection must end by itself (bounded: a server that never cuts fails here).
    const deadline = Date.now() + 10_000
    while (!stopped && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
    if (stopped) {
      socket.resume()
      await closed
    }
    socket.destroy()
    await close()
    assert.equal(stopped, true, 'the producer was stopped')
    assert.ok(produced < 1000, `it did not run on (${produced} chunks)`)
    assert.equal(g.stats().refused.timeout, 1)
  })

  it('a client that reads gets every chunk', async () => {
    const { port, close } = await serve({
      method: 'GET',
      path: '/export',
      handle: () => ({
        stream: (async function* () {
          for (let i = 0; i < 20; i++) yield CHUNK
        })(),
      }),
    })
    const res = await fetch(`http://127.0.0.1:${port}/export`)
    assert.equal((await res.arrayBuffer()).byteLength, 20 * CHUNK.length)
    await close()
  })
})
