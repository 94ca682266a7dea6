// Cost of the per-host rate limiter, which runs `take()` once for every upstream event: one host
// and 3,000 hosts round-robin, within limits and over them (every call computes a wait), with the
// real monotonic clock and with a fake one (to separate the clock read's own cost), plus the
// read-side calls the admin list makes per host. Nothing here asserts on speed.
import { measure, note } from '../../bench/harness.ts'
import { defaultLimits, HostRateLimiter } from './rate-limit.ts'

const HOSTS = 3_000
const trusted = defaultLimits(100, true)
const tight = { perSecond: 1, perHour: 10, perDay: 100 }

measure('performance.now() alone (reference)', () => {
  performance.now()
})

{
  const rl = new HostRateLimiter()
  rl.set(1, trusted)
  measure('take(): 1 host, within limits, real clock', () => {
    rl.take(1)
  })
}

{
  let t = 0
  const rl = new HostRateLimiter({ now: () => (t += 0.01) })
  rl.set(1, trusted)
  measure('take(): 1 host, within limits, fake clock', () => {
    rl.take(1)
  })
}

{
  const rl = new HostRateLimiter()
  for (let id = 0; id < HOSTS; id++) rl.set(id, trusted)
  let id = 0
  measure(`take(): ${HOSTS.toLocaleString('en-US')} hosts round-robin, within limits`, () => {
    rl.take(id)
    id = id + 1 === HOSTS ? 0 : id + 1
  })
}

{
  const rl = new HostRateLimiter()
  for (let id = 0; id < HOSTS; id++) rl.set(id, tight)
  let id = 0
  let held = 0
  let calls = 0
  measure(`take(): ${HOSTS.toLocaleString('en-US')} hosts round-robin, over limits`, () => {
    if (rl.take(id) > 0) held++
    calls++
    id = id + 1 === HOSTS ? 0 : id + 1
  })
  note(`${((100 * held) / calls).toFixed(1)}% of calls returned a wait`)
}

{
  const rl = new HostRateLimiter()
  for (let id = 0; id < HOSTS; id++) rl.set(id, defaultLimits(id * 10, id % 10 === 0))
  for (let id = 0; id < HOSTS; id++) for (let i = 0; i < 100; i++) rl.take(id)
  measure(
    `rates() + throttledFor() + limits(), per host of ${HOSTS.toLocaleString('en-US')}`,
    () => {
      for (let id = 0; id < HOSTS; id++) {
        rl.rates(id)
        rl.throttledFor(id)
        rl.limits(id)
      }
    },
    { opsPerCall: HOSTS },
  )
}
