import assert from 'node:assert/strict'
import { request } from 'node:http'
import { test } from 'node:test'
import { createMetrics } from './metrics.ts'
import { MetricsServerError, startMetricsServer } from './metrics-server.ts'
import { collecting, makeFakes, parseExposition } from './testing.ts'

async function get(
  url: string,
  method = 'GET',
): Promise<{ status: number; headers: Headers; body: string }> {
  const res = await fetch(url, { method })
  return { status: res.status, headers: res.headers, body: await res.text() }
}

test('GET /metrics over real HTTP; 404 elsewhere, 405 for other methods; Server header', async () => {
  const metrics = collecting(createMetrics(), makeFakes().sources)
  await using server = await startMetricsServer(metrics.registry, { host: '127.0.0.1', port: 0 })
  const base = `http://127.0.0.1:${server.address().port}`

  const ok = await get(`${base}/metrics`)
  assert.equal(ok.status, 200)
  assert.match(ok.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/)
  assert.match(ok.headers.get('server') ?? '', /atproto-relay/)
  const { samples, types } = parseExposition(ok.body)
  assert.equal(samples.get('relay_output_seq'), 42)
  assert.equal(samples.get('relay_events_received_total{type="commit"}'), 6)
  assert.ok(types.has('process_resident_memory_bytes'))
  assert.ok((samples.get('nodejs_v8_malloced_bytes') ?? 0) > 0, 'V8 malloc figure')

  const withQuery = await get(`${base}/metrics?name[]=x`)
  assert.equal(withQuery.status, 200)

  const head = await get(`${base}/metrics`, 'HEAD')
  assert.equal(head.status, 200)
  assert.equal(head.body, '')

  for (const path of ['/', '/metric', '/metrics/', '/xrpc/_health']) {
    const res = await get(base + path)
    assert.equal(res.status, 404, path)
    assert.match(res.headers.get('server') ?? '', /atproto-relay/)
  }
  const post = await get(`${base}/metrics`, 'POST')
  assert.equal(post.status, 405)
  assert.equal(post.headers.get('allow'), 'GET, HEAD')
  metrics.close()
})

test('a failing collector answers 500 and is reported; close() ends kept-alive connections', async () => {
  const fakes = makeFakes()
  let fail = false
  const log = fakes.sources.log
  const metrics = collecting(createMetrics({ processMetrics: false }), {
    ...fakes.sources,
    log: {
      stats: () => {
        if (fail) throw new Error('log stats failed')
        return log.stats()
      },
    },
  })
  const errors: unknown[] = []
  const server = await startMetricsServer(
    metrics.registry,
    { host: '127.0.0.1', port: 0 },
    { onError: (err) => errors.push(err) },
  )
  const base = `http://127.0.0.1:${server.address().port}`
  fail = true
  const res = await get(`${base}/metrics`)
  assert.equal(res.status, 500)
  assert.equal(errors.length, 1)
  fail = false
  assert.equal((await get(`${base}/metrics`)).status, 200)

  // A kept-alive connection (as a scraper holds one) does not hold close() up.
  const socketClosed = new Promise<void>((resolve, reject) => {
    const req = request(`${base}/metrics`, { agent: false, headers: { connection: 'keep-alive' } })
    req.on('socket', (socket) => socket.once('close', () => resolve()))
    req.on('response', (r) => {
      assert.equal(r.headers.connection, 'keep-alive')
      r.resume()
      r.on('end', () => void server.close())
    })
    req.on('error', reject)
    req.end()
  })
  try {
    await socketClosed
  } finally {
    await server.close()
  }
  await server.close()
  await assert.rejects(fetch(`${base}/metrics`))
  metrics.close()
})

test('listening on a port in use fails with MetricsServerError listen-failed', async () => {
  const metrics = collecting(createMetrics({ processMetrics: false }), makeFakes().sources)
  await using first = await startMetricsServer(metrics.registry, { host: '127.0.0.1', port: 0 })
  await assert.rejects(
    startMetricsServer(metrics.registry, { host: '127.0.0.1', port: first.address().port }),
    (err: unknown) =>
      err instanceof MetricsServerError &&
      err.code === 'listen-failed' &&
      (err.cause as NodeJS.ErrnoException).code === 'EADDRINUSE',
  )
  metrics.close()
})
