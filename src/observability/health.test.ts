// The health monitor: a report naming each failing check with its short reason, a throwing check
// failing without its error in the report, and one change event per transition (failing, then
// recovered), whether the checks run for the route or on the timer.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { type HealthChange, HealthMonitor } from './health.ts'

test('reports which part fails, and each failure and recovery once', async () => {
  let logReason: string | null = null
  let dbDown = false
  const changes: HealthChange[] = []
  const monitor = new HealthMonitor({
    checks: {
      database: async () => {
        if (dbDown) throw new Error('connect ECONNREFUSED 10.0.0.5:5432 (password=secret)')
        return null
      },
      eventlog: async () => logReason,
    },
    onChange: (c) => changes.push(c),
  })
  assert.deepEqual(await monitor.check(), { ok: true, checks: { database: 'ok', eventlog: 'ok' } })
  dbDown = true
  logReason = 'write failing (ENOSPC)'
  const bad = await monitor.check()
  assert.deepEqual(bad, {
    ok: false,
    checks: { database: 'failing', eventlog: 'failing' },
    message: 'database: not responding; eventlog: write failing (ENOSPC)',
  })
  assert.doesNotMatch(JSON.stringify(bad), /ECONNREFUSED|secret/, 'no internals in the report')
  await monitor.check() // still failing: no new change
  dbDown = false
  await monitor.check()
  logReason = null
  await monitor.check()
  assert.deepEqual(
    changes.map((c) => [c.check, c.failing, c.reason]),
    [
      ['database', true, 'not responding'],
      ['eventlog', true, 'write failing (ENOSPC)'],
      ['database', false, null],
      ['eventlog', false, null],
    ],
  )
  assert.match(
    String((changes[0]!.error as Error).message),
    /ECONNREFUSED/,
    'the log gets the error',
  )
})
