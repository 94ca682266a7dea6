// What the relay-wide commands print: consumers, crawl status and per-day limit, stats.
import assert from 'node:assert/strict'
import { afterEach, beforeEach, describe, it } from 'node:test'
import { FakeAdminServer } from './fake-admin-server.ts'
import { runAdmin } from './testing.ts'

describe('relay admin consumers / crawl / stats: output', () => {
  let fake: FakeAdminServer
  beforeEach(async () => {
    fake = await FakeAdminServer.start()
  })
  afterEach(() => fake.close())

  it('consumers: a table with how long each has been connected', async () => {
    fake.on('GET /admin/consumers/list', {
      json: [
        {
          id: 7,
          remote_addr: '203.0.113.9',
          user_agent: 'indexer/2.1',
          events_consumed: 1234567,
          connected_at: '2026-01-01T00:55:00Z',
        },
      ],
    })
    const run = await runAdmin(fake, ['consumers'])
    assert.equal(run.code, 0, run.stderr)
    assert.equal(
      run.stdout,
      [
        'ID  REMOTE ADDR  USER AGENT      EVENTS  CONNECTED',
        ' 7  203.0.113.9  indexer/2.1  1,234,567  2026-01-01T00:55:00Z (5m ago)',
        '1 consumer',
        '',
      ].join('\n'),
    )
    fake.on('GET /admin/consumers/list', { json: [] })
    assert.equal((await runAdmin(fake, ['consumers'])).stdout, 'no consumers connected\n')
  })

  it('crawl status and per-day-limit', async () => {
    fake.on('GET /admin/subs/getEnabled', { json: { enabled: false, source: 'admin' } })
    fake.on('GET /admin/subs/perDayLimit', { json: { limit: 50 } })
    fake.on('POST /admin/subs/setPerDayLimit', { json: { success: 'true' } })
    const status = await runAdmin(fake, ['crawl', 'status'])
    assert.equal(
      status.stdout,
      'public requestCrawl: disabled (from admin)\nnew hosts per day:   50\n',
    )
    const json = await runAdmin(fake, ['crawl', 'status', '--json'])
    assert.deepEqual(JSON.parse(json.stdout), { enabled: false, limit: 50 })
    assert.equal(
      (await runAdmin(fake, ['crawl', 'per-day-limit'])).stdout,
      'new hosts per day: 50\n',
    )
    const set = await runAdmin(fake, ['crawl', 'per-day-limit', '2000'])
    assert.equal(set.stdout, 'new hosts per day set to 2,000\n')
  })

  it('stats: last, mean and max of each series, drops per reason', async () => {
    fake.on('GET /admin/stats', {
      json: {
        step: 10,
        series: {
          eventsIn: [600, 620, 580],
          eventsOut: [600, 620, 580],
          consumers: [3, 3, 4],
          drops: { 'bad-signature': [0, 3, 0], 'stale-rev': [] },
          busy: { main: [40, 45.5, 50], verify: [80, 90, 100] },
        },
      },
    })
    const run = await runAdmin(fake, ['stats'])
    assert.equal(run.code, 0, run.stderr)
    assert.equal(
      run.stdout,
      [
        'one number per 10 s',
        'SERIES               LAST  MEAN  MAX',
        'eventsIn              580   600  620',
        'eventsOut             580   600  620',
        'consumers               4   3.3    4',
        'drops bad-signature     0     1    3',
        'drops stale-rev         -     -    -',
        'busy main              50  45.2   50',
        'busy verify           100    90  100',
        '',
      ].join('\n'),
    )
  })
})
