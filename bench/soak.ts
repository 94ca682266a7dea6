// `npm run soak -- --minutes 30`: the relay as a real process under steady load for a long time,
// with hostile hosts and consumers mixed in (bench/soak/). Prints one line per sample (RSS, heap,
// open fds, event-log size, events/s) and a summary; writes samples.csv, memory.svg and
// summary.json to --out. Exits 1 on a continuity violation (a gap or duplicate seq seen by a
// consumer), a relay that died or did not stop cleanly, or nothing delivered; 3 when a run of at
// least 10 minutes finds memory still growing after warm-up.
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { keyValues, positiveNumber, relayNodeFlags } from './harness.ts'
import { runSoak } from './soak/run.ts'

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '30' },
    rate: { type: 'string', default: '300' },
    hosts: { type: 'string', default: '4' },
    accounts: { type: 'string', default: '1000' },
    out: { type: 'string' },
    'sample-seconds': { type: 'string', default: '10' },
    'no-hostile': { type: 'boolean', default: false },
    'hostile-only': { type: 'string' },
    'relay-env': { type: 'string', multiple: true, default: [] },
    'relay-node-flag': { type: 'string', multiple: true },
    'without-start-flags': { type: 'boolean', default: false },
    'stuck-hold-seconds': { type: 'string', default: '90' },
    'replay-every-seconds': { type: 'string', default: '120' },
    'drain-seconds': { type: 'string', default: '420' },
    'gc-probe-minutes': { type: 'string', default: '3' },
    'no-gc-probe': { type: 'boolean', default: false },
    'keep-data': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
})

if (values.help) {
  console.log(`npm run soak -- [options]
  --minutes N               run time (fractions allowed; default 30)
  --rate N                  commits per second offered over all hosts (default 300)
  --hosts N                 honest hosts (default 4; a garbage and a flapping host come on top)
  --accounts N              accounts spread over all hosts (default 1000)
  --out DIR                 where samples.csv, memory.svg, summary.json go (default data/soak/<time>)
  --sample-seconds N        sampling period (default 10)
  --no-hostile              honest hosts and consumers only
  --hostile-only WHAT       'hosts' (garbage, flapping) or 'consumers' (churn, stuck, replay)
  --relay-env KEY=VALUE     environment for the relay process (repeatable), e.g.
                            MALLOC_ARENA_MAX=2 or LD_PRELOAD=...libjemalloc.so.2
  --relay-node-flag FLAG    a Node/V8 flag for the relay process (repeatable), added after
                            the ones npm start passes (of two V8 flags of one name, the last
                            wins), e.g. --relay-node-flag=--trace-gc; its output goes to stdout
  --without-start-flags     leave npm start's flags out: --relay-node-flag's alone
  --stuck-hold-seconds N    how long the stuck consumer holds its socket unread (default 90)
  --replay-every-seconds N  how often a consumer replays from cursor 0 (default 120)
  --drain-seconds N         at the end, how long to wait for hosts in reconnection backoff to
                            deliver the rest (default 420: the backoff reaches 5 minutes)
  --gc-probe-minutes N      how often to force a full garbage collection in the relay (through
                            its inspector, on loopback) and record the memory left; the memory
                            verdict is taken on these probes (default 3)
  --no-gc-probe             no forced collections: judge plain RSS and heap only
  --keep-data               keep the relay's event log and database`)
  process.exit(0)
}

const num = (name: string, v: string | undefined): number => positiveNumber('soak', name, v)

const minutes = num('minutes', values.minutes)
const hostileOnly = values['hostile-only']
if (hostileOnly !== undefined && hostileOnly !== 'hosts' && hostileOnly !== 'consumers') {
  console.error(`soak: --hostile-only wants hosts or consumers, not ${hostileOnly}`)
  process.exit(2)
}
const relayEnv = keyValues('soak', 'relay-env', values['relay-env'])
const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19)
const result = await runSoak({
  minutes,
  rate: num('rate', values.rate),
  hosts: Math.round(num('hosts', values.hosts)),
  accounts: Math.round(num('accounts', values.accounts)),
  outDir: values.out ?? join('data', 'soak', stamp),
  sampleSeconds: num('sample-seconds', values['sample-seconds']),
  hostile: !values['no-hostile'],
  hostileOnly,
  relayEnv,
  relayNodeFlags: await relayNodeFlags(values['relay-node-flag'], values['without-start-flags']),
  stuckHoldMs: num('stuck-hold-seconds', values['stuck-hold-seconds']) * 1000,
  replayEveryMs: num('replay-every-seconds', values['replay-every-seconds']) * 1000,
  drainSeconds: num('drain-seconds', values['drain-seconds']),
  gcProbeEveryMs: values['no-gc-probe']
    ? 0
    : num('gc-probe-minutes', values['gc-probe-minutes']) * 60_000,
  gcProbeSettleMs: 20_000,
  keepData: values['keep-data'],
  print: (line) => console.log(line),
})
process.exitCode = !result.ok ? 1 : minutes >= 10 && !result.memory.flat ? 3 : 0
