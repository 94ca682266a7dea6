import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { test } from 'node:test'
import { HistogramCounts } from './histogram-counts.ts'
import { createMetrics } from './metrics.ts'
import { A_DID, collecting, connection, makeFakes, parseExposition } from './testing.ts'
import { IDENTITY_BUCKETS, VERIFY_BUCKETS } from './thread-histograms.ts'

const EXPECTED: Record<string, number> = {
  'relay_host_events_received_total{host="pds.one.example",type="commit"}': 5,
  'relay_host_events_received_total{host="pds.one.example",type="sync"}': 0,
  'relay_host_events_received_total{host="pds.one.example",type="identity"}': 1,
  'relay_host_events_received_total{host="pds.one.example",type="account"}': 0,
  'relay_host_events_received_total{host="pds.two.example",type="commit"}': 1,
  'relay_host_events_received_total{host="pds.two.example",type="sync"}': 1,
  'relay_host_events_received_total{host="pds.two.example",type="identity"}': 0,
  'relay_host_events_received_total{host="pds.two.example",type="account"}': 1,
  'relay_host_events_received_total{host="pds.three.example",type="commit"}': 0,
  'relay_host_events_received_total{host="pds.three.example",type="sync"}': 0,
  'relay_host_events_received_total{host="pds.three.example",type="identity"}': 0,
  'relay_host_events_received_total{host="pds.three.example",type="account"}': 0,
  'relay_host_events_dropped_total{host="pds.one.example",reason="bad-signature"}': 2,
  'relay_host_events_dropped_total{host="pds.three.example",reason="host-banned"}': 1,
  'relay_host_queue_depth{host="pds.one.example"}': 7,
  'relay_host_queue_depth{host="pds.two.example"}': 0,
  relay_metrics_hosts_omitted: 0,
  'relay_events_received_total{type="commit"}': 6,
  'relay_events_received_total{type="sync"}': 1,
  'relay_events_received_total{type="identity"}': 1,
  'relay_events_received_total{type="account"}': 1,
  'relay_events_dropped_total{reason="bad-signature"}': 2,
  'relay_events_dropped_total{reason="host-banned"}': 1,
  'relay_hosts{status="active"}': 1,
  'relay_hosts{status="idle"}': 0,
  'relay_hosts{status="offline"}': 1,
  'relay_hosts{status="throttled"}': 0,
  'relay_hosts{status="banned"}': 1,
  'relay_upstream_connections{state="connecting"}': 0,
  'relay_upstream_connections{state="connected"}': 1,
  'relay_upstream_connections{state="disconnected"}': 1,
  'relay_upstream_connections{state="refused"}': 0,
  'relay_upstream_connections{state="stopped"}': 0,
  relay_upstream_paused_connections: 0,
  relay_upstream_received_bytes_total: 1500,
  relay_upstream_reconnects_total: 0,
  'relay_upstream_info_total{name="OutdatedCursor"}': 2,
  'relay_upstream_info_total{name="other"}': 2,
  relay_upstream_rate_pauses_total: 4,
  relay_upstream_cursor_resets_total: 1,
  relay_events_accepted_total: 6,
  relay_ingest_errors_total: 1,
  relay_ingest_retries_total: 5,
  relay_ingest_in_flight: 3,
  relay_verify_pool_in_flight: 4,
  relay_verify_pool_queued: 2,
  relay_verify_pool_restarts_total: 1,
  relay_verify_workers: 2,
  relay_verify_workers_ready: 1,
  'relay_verified_events_total{thread="main"}': 30,
  'relay_verified_events_total{thread="worker"}': 12,
  relay_verify_on_main: 1,
  relay_upstream_threads: 1,
  relay_upstream_thread_restarts_total: 2,
  relay_upstream_thread_stalls_total: 3,
  relay_upstream_thread_waiting_bytes: 4096,
  'relay_thread_busy_seconds_total{thread="upstream"}': 0.75,
  'relay_thread_busy_seconds_total{thread="verify"}': 1.5,
  'relay_thread_busy_seconds_total{thread="account_shards"}': 0.6,
  relay_account_shard_verifications_lent_total: 11,
  'relay_account_shard_events_total{shard="0"}': 40,
  'relay_account_shard_events_total{shard="1"}': 25,
  'relay_account_shard_backlog{shard="0"}': 3,
  'relay_account_shard_backlog{shard="1"}': 0,
  'relay_account_shard_heap_bytes{kind="used"}': 500,
  'relay_account_shard_heap_bytes{kind="total"}': 1500,
  'relay_thread_busy_seconds_total{thread="archive_writer"}': 0.25,
  relay_output_seq: 42,
  relay_eventlog_flushed_seq: 41,
  relay_eventlog_oldest_seq: 10,
  relay_eventlog_bytes: 123456,
  relay_eventlog_segments: 2,
  relay_eventlog_pending_bytes: 99,
  relay_eventlog_records_written_total: 32,
  relay_eventlog_write_calls_total: 8,
  relay_eventlog_syncs_total: 3,
  relay_eventlog_io_errors_total: 0,
  relay_eventlog_recovered_bytes: 40,
  'relay_consumers{state="replaying"}': 1,
  'relay_consumers{state="live"}': 1,
  relay_consumer_buffered_bytes: 4096,
  'relay_verify_worker_heap_bytes{kind="used"}': 1500,
  'relay_verify_worker_heap_bytes{kind="total"}': 6000,
  relay_consumer_events_sent_total: 150,
  relay_consumer_sent_bytes_total: 9000,
  relay_consumers_accepted_total: 5,
  'relay_consumer_rejections_total{reason="future-cursor"}': 1,
  'relay_consumer_rejections_total{reason="too-many-consumers"}': 0,
  'relay_consumer_rejections_total{reason="too-slow"}': 3,
  'relay_consumer_rejections_total{reason="buffers-full"}': 2,
  relay_consumer_sockets_shed_total: 1,
  'relay_consumer_rejections_total{reason="ping-timeout"}': 0,
  'relay_consumer_rejections_total{reason="replay-failed"}': 0,
  relay_consumer_outdated_cursors_total: 2,
  relay_identity_cache_hits_total: 90,
  relay_identity_cache_negative_hits_total: 1,
  relay_identity_cache_misses_total: 10,
  relay_identity_cache_coalesced_total: 2,
  relay_identity_stale_served_total: 3,
  relay_identity_busy_total: 0,
  relay_identity_cache_evictions_total: 5,
  relay_identity_cache_loaded_total: 4,
  relay_identity_store_failures_total: 3,
  relay_identity_store_dropped_total: 2,
  relay_identity_cache_entries: 77,
  relay_identity_resolutions_running: 1,
  relay_identity_resolutions_queued: 0,
  relay_http_connections: 4,
  'relay_http_refused_total{reason="per-address-limit"}': 2,
  'relay_http_refused_total{reason="timeout"}': 1,
  'relay_http_refused_total{reason="bad-request"}': 0,
  'relay_build_info{version="1.2.3"}': 1,
  relay_repairs_queued: 3,
  relay_repairs_running: 1,
  'relay_repairs_total{result="repaired"}': 7,
  'relay_repairs_total{result="failed"}': 2,
  relay_repairs_overflow_total: 4,
  'relay_account_syncs_total{result="synced"}': 5,
  'relay_account_syncs_total{result="unchanged"}': 2,
  'relay_account_syncs_total{result="stale"}': 0,
  'relay_account_syncs_total{result="refused"}': 1,
  'relay_account_syncs_total{result="failed"}': 2,
  relay_host_resyncs_running: 1,
  'relay_mirror_commits_total{result="applied"}': 40,
  'relay_mirror_commits_total{result="unchanged"}': 1,
  'relay_mirror_commits_total{result="missing"}': 2,
  relay_mirror_commits_without_diff_total: 35,
  relay_mirror_repos_imported_total: 6,
  relay_mirror_repos_deleted_total: 1,
  relay_compaction_running: 1,
  relay_archive_writer_in_flight: 5,
  relay_archive_writer_writes_total: 70,
  relay_archive_writer_restarts_total: 1,
  relay_verify_duration_seconds_count: 0,
  relay_db_batch_duration_seconds_count: 0,
}

const HISTOGRAMS = [
  'relay_verify_duration_seconds',
  'relay_identity_resolution_duration_seconds',
  'relay_db_batch_duration_seconds',
  'relay_http_request_duration_seconds',
]

async function scrape(metrics: ReturnType<typeof createMetrics>) {
  return parseExposition(await metrics.registry.metrics())
}

const MAIN_BUSY = 'relay_thread_busy_seconds_total{thread="main"}'
const MAIN_CPU = 'relay_main_thread_cpu_seconds_total'

test('every relay metric, its labels and values, read from the parts at scrape time', async () => {
  const fakes = makeFakes()
  const metrics = collecting(createMetrics({ version: '1.2.3' }), fakes.sources)
  // The event loop counts busy time once it runs: let it start, then keep it busy for 20 ms.
  await new Promise((resolve) => setTimeout(resolve, 5))
  for (const until = performance.now() + 20; performance.now() < until; );
  const { samples, list, types, help } = await scrape(metrics)
  for (const [key, value] of Object.entries(EXPECTED)) assert.equal(samples.get(key), value, key)
  // The main thread's busy time is this test process's own: it has been busy, less than it ran.
  const mainBusy = samples.get(MAIN_BUSY) ?? -1
  assert.ok(mainBusy >= 0.02 && mainBusy < process.uptime(), `${MAIN_BUSY} ${mainBusy}`)
  // Its CPU too: at least the 20 ms spun above, at most the whole process's.
  const mainCpu = samples.get(MAIN_CPU) ?? -1
  const processCpu = process.cpuUsage()
  assert.ok(
    mainCpu >= 0.02 && mainCpu <= (processCpu.user + processCpu.system) / 1e6,
    `${MAIN_CPU} ${mainCpu}`,
  )
  const relaySamples = [...samples.keys()].filter(
    (k) =>
      k.startsWith('relay_') &&
      k !== MAIN_BUSY &&
      k !== MAIN_CPU &&
      !HISTOGRAMS.some((h) => k.startsWith(h)),
  )
  assert.deepEqual(
    relaySamples.sort(),
    Object.keys(EXPECTED)
      .filter((k) => !HISTOGRAMS.some((h) => k.startsWith(h)))
      .sort(),
  )
  // Naming: counters end in _total, every family has help text; histograms are in seconds.
  for (const [name, type] of types) {
    if (!name.startsWith('relay_')) continue
    assert.ok((help.get(name) ?? '').length > 10, `help for ${name}`)
    if (type === 'counter') assert.match(name, /_total$/)
    else assert.doesNotMatch(name, /_total$/)
    if (type === 'histogram') assert.match(name, /_seconds$/)
  }
  for (const h of HISTOGRAMS) assert.equal(types.get(h), 'histogram')
  // No DID anywhere: not as a label value, not elsewhere in the text.
  for (const s of list)
    for (const v of Object.values(s.labels)) assert.doesNotMatch(v, /^did:/, `${s.name} ${v}`)
  assert.ok(!(await metrics.registry.metrics()).includes(A_DID.slice(4)))
  // Process metrics under their standard names.
  assert.equal(types.get('process_cpu_user_seconds_total'), 'counter')
  assert.ok(types.has('nodejs_eventloop_lag_seconds'))
  metrics.close()
  assert.equal(await metrics.registry.metrics(), '\n')
})

test('values follow the parts between scrapes; per-host series are capped by volume', async () => {
  const fakes = makeFakes()
  const metrics = collecting(createMetrics({ maxHosts: 2, processMetrics: false }), fakes.sources)
  let { samples } = await scrape(metrics)
  assert.equal(samples.get('relay_metrics_hosts_omitted'), 1)
  // pds.three.example has the least volume (one drop): left out of the per-host series...
  assert.equal(
    samples.get('relay_host_events_dropped_total{host="pds.three.example",reason="host-banned"}'),
    undefined,
  )
  assert.equal(
    samples.get('relay_host_events_received_total{host="pds.three.example",type="commit"}'),
    undefined,
  )
  // ...but still in the totals.
  assert.equal(samples.get('relay_events_dropped_total{reason="host-banned"}'), 1)

  // Host three gets busy and overtakes host two.
  for (let i = 0; i < 10; i++) fakes.sources.eventTypes.add(3, '#commit')
  fakes.connections.set(3, connection('connecting', 2, 0))
  ;({ samples } = await scrape(metrics))
  assert.equal(
    samples.get('relay_host_events_received_total{host="pds.three.example",type="commit"}'),
    10,
  )
  assert.equal(
    samples.get('relay_host_events_received_total{host="pds.two.example",type="commit"}'),
    undefined,
  )
  assert.equal(samples.get('relay_events_received_total{type="commit"}'), 16)
  assert.equal(samples.get('relay_upstream_connections{state="connecting"}'), 1)

  // A consumer leaves, a host connection is replaced: the totals do not go down.
  fakes.consumers.splice(1, 1)
  fakes.consumers[0]!.eventsSent = 120
  fakes.connections.set(1, connection('connecting', 0, 10))
  fakes.connections.get(2)!.paused = true
  ;({ samples } = await scrape(metrics))
  assert.equal(samples.get('relay_consumer_events_sent_total'), 170)
  assert.equal(samples.get('relay_consumer_sent_bytes_total'), 9000)
  assert.equal(samples.get('relay_consumers{state="replaying"}'), 0)
  assert.equal(samples.get('relay_upstream_received_bytes_total'), 1510)
  assert.equal(samples.get('relay_upstream_paused_connections'), 1)

  // When fan-out reports cumulative totals itself, they are used as they are.
  fakes.fanoutTotals.eventsSent = 1000
  fakes.fanoutTotals.bytesSent = 64000
  ;({ samples } = await scrape(metrics))
  assert.equal(samples.get('relay_consumer_events_sent_total'), 1000)
  assert.equal(samples.get('relay_consumer_sent_bytes_total'), 64000)
  metrics.close()
})

test('hot-path histograms: verification, database batches, identity resolution by result', async () => {
  const fakes = makeFakes()
  const metrics = collecting(createMetrics({ processMetrics: false }), fakes.sources)
  metrics.verifyLatency.observe(0.00004)
  metrics.verifyLatency.observe(0.0003)
  metrics.verifyLatency.observe(2)
  metrics.dbBatchLatency.observe(0.02)
  const notFound = Object.assign(new Error('gone'), { name: 'DidNotFoundError' })
  const resolver = metrics.timeIdentity({
    resolve: async (did: string) => {
      if (did === 'did:plc:gone') throw notFound
      if (did === 'did:plc:down') throw new Error('network')
      return { did }
    },
  })
  assert.deepEqual(await resolver.resolve('did:plc:ok'), { did: 'did:plc:ok' })
  await assert.rejects(resolver.resolve('did:plc:gone'), (e) => e === notFound)
  await assert.rejects(resolver.resolve('did:plc:down'), /network/)
  const { samples } = await scrape(metrics)
  assert.equal(samples.get('relay_verify_duration_seconds_bucket{le="0.00005"}'), 1)
  assert.equal(samples.get('relay_verify_duration_seconds_bucket{le="0.0005"}'), 2)
  assert.equal(samples.get('relay_verify_duration_seconds_bucket{le="1"}'), 2)
  assert.equal(samples.get('relay_verify_duration_seconds_bucket{le="+Inf"}'), 3)
  assert.equal(samples.get('relay_verify_duration_seconds_count'), 3)
  assert.equal(samples.get('relay_db_batch_duration_seconds_count'), 1)
  assert.equal(samples.get('relay_db_batch_duration_seconds_bucket{le="0.025"}'), 1)
  for (const result of ['ok', 'not_found', 'error'])
    assert.equal(
      samples.get(`relay_identity_resolution_duration_seconds_count{result="${result}"}`),
      1,
    )
  metrics.close()
})

test('the account shards’ histogram totals are added to the main thread’s, series by series', async () => {
  const fakes = makeFakes()
  const metrics = collecting(createMetrics({ processMetrics: false }), fakes.sources)
  metrics.verifyLatency.observe(0.0003)
  metrics.identityLatency.observe({ result: 'ok' }, 0.02)
  // Two shards: one verified three events and resolved one identity that was not found; the
  // other verified one, slower than every bucket.
  const one = {
    verify: new HistogramCounts(VERIFY_BUCKETS),
    identity: new HistogramCounts(IDENTITY_BUCKETS),
  }
  for (const v of [0.00004, 0.0003, 0.003]) one.verify.observe(v)
  one.identity.observe(0.2, 'not_found')
  const two = new HistogramCounts(VERIFY_BUCKETS)
  two.observe(3)
  fakes.shardHistograms.push(
    {
      relay_verify_duration_seconds: one.verify.totals(),
      relay_identity_resolution_duration_seconds: one.identity.totals(),
    },
    { relay_verify_duration_seconds: two.totals() },
  )
  const { samples, types } = await scrape(metrics)
  assert.equal(types.get('relay_verify_duration_seconds'), 'histogram')
  assert.equal(samples.get('relay_verify_duration_seconds_bucket{le="0.00005"}'), 1)
  assert.equal(samples.get('relay_verify_duration_seconds_bucket{le="0.0005"}'), 3)
  assert.equal(samples.get('relay_verify_duration_seconds_bucket{le="0.005"}'), 4)
  assert.equal(samples.get('relay_verify_duration_seconds_bucket{le="1"}'), 4)
  assert.equal(samples.get('relay_verify_duration_seconds_bucket{le="+Inf"}'), 5)
  assert.equal(samples.get('relay_verify_duration_seconds_count'), 5)
  const sum = samples.get('relay_verify_duration_seconds_sum')!
  assert.ok(Math.abs(sum - (0.0003 + 0.00004 + 0.0003 + 0.003 + 3)) < 1e-9, `sum ${sum}`)
  assert.equal(samples.get('relay_identity_resolution_duration_seconds_count{result="ok"}'), 1)
  assert.equal(
    samples.get('relay_identity_resolution_duration_seconds_count{result="not_found"}'),
    1,
  )
  assert.equal(
    samples.get('relay_identity_resolution_duration_seconds_bucket{le="0.25",result="not_found"}'),
    1,
  )
  assert.equal(
    samples.get('relay_identity_resolution_duration_seconds_bucket{le="0.1",result="not_found"}'),
    0,
  )
  metrics.close()
})

test('HTTP requests by route and status over a real server; unknown paths are "other"', async () => {
  const metrics = collecting(createMetrics({ processMetrics: false }), makeFakes().sources)
  const server = createServer((req, res) => {
    res.writeHead(req.url?.startsWith('/xrpc/_health') ? 200 : 404)
    res.end('x')
  })
  const detach = metrics.instrumentHttp(server, ['/xrpc/_health', '/dash/*'])
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  try {
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    for (const path of [
      '/xrpc/_health',
      '/xrpc/_health?x=1',
      '/dash/app.js',
      '/did:plc:abc',
      '/nope',
    ]) {
      const res = await fetch(base + path)
      await res.arrayBuffer()
    }
    // `finish` fires before the client sees the end of the response; poll briefly.
    const deadline = Date.now() + 5000
    let samples = (await scrape(metrics)).samples
    const count = (route: string, status: number) =>
      samples.get(`relay_http_request_duration_seconds_count{route="${route}",status="${status}"}`)
    while (count('other', 404) !== 2 && Date.now() < deadline) {
      await new Promise((r) => setImmediate(r))
      samples = (await scrape(metrics)).samples
    }
    assert.equal(count('/xrpc/_health', 200), 2)
    assert.equal(count('/dash/*', 404), 1)
    assert.equal(count('other', 404), 2)
    const routes = new Set(
      (await scrape(metrics)).list
        .filter((s) => s.name.startsWith('relay_http_request_duration_seconds'))
        .map((s) => s.labels.route),
    )
    assert.deepEqual([...routes].sort(), ['/dash/*', '/xrpc/_health', 'other'])
    detach()
    await (await fetch(`${base}/nope`)).arrayBuffer()
    samples = (await scrape(metrics)).samples
    assert.equal(count('other', 404), 2)
  } finally {
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
    metrics.close()
  }
})

test('maxHosts must be a non-negative integer; collectFrom only once', () => {
  assert.throws(() => createMetrics({ maxHosts: -1 }), RangeError)
  const metrics = collecting(createMetrics({ processMetrics: false }), makeFakes().sources)
  assert.throws(() => metrics.collectFrom(makeFakes().sources), /already/)
  metrics.close()
})
