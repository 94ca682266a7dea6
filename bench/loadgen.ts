// `npm run loadgen -- [options]`: measures a relay under a steady, realistic load (bench/loadgen/):
// simulated PDS hosts on loopback sending pre-generated, validly signed sync 1.1 commits (cached
// on disk after the first run), a mock PLC directory, and consumers that check seq continuity and
// measure latency from PDS send to consumer receive. Runs our relay as a child process, or any
// running relay (`--relay-url`). Prints progress, then one JSON line of results, also appended to
// data/loadgen/results.jsonl. Benchmarks only: nothing asserts on speed.
import { existsSync } from 'node:fs'
import { appendFile, mkdir } from 'node:fs/promises'
import { availableParallelism } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { keyValues, positiveNumber, relayNodeFlags } from './harness.ts'
import { type ComparedRun, compareSummary, pairOrder } from './loadgen/compare.ts'
import { type LoadgenOptions, loadgenWorkload, runLoadgen } from './loadgen/run.ts'
import {
  failedRun,
  judgeRun,
  SweepSpecError,
  type SweptResult,
  sweepRates,
  sweepSummary,
  sweptResult,
} from './loadgen/sweep.ts'

const { values } = parseArgs({
  options: {
    rate: { type: 'string' },
    seconds: { type: 'string', default: '60' },
    warmup: { type: 'string', default: '15' },
    hosts: { type: 'string', default: '20' },
    accounts: { type: 'string', default: '2000' },
    records: { type: 'string', default: '300' },
    consumers: { type: 'string', default: '10' },
    seed: { type: 'string', default: '1' },
    cache: { type: 'string', default: join('data', 'loadgen', 'cache') },
    results: { type: 'string', default: join('data', 'loadgen', 'results.jsonl') },
    'drain-seconds': { type: 'string', default: '30' },
    'slow-consumers': { type: 'string', default: '0' },
    'slow-seconds': { type: 'string', default: '20' },
    'serve-repos': { type: 'boolean', default: false },
    'relay-log': { type: 'string' },
    'relay-flag': { type: 'string', multiple: true, default: [] },
    'only-shard': { type: 'string' },
    'relay-env': { type: 'string', multiple: true, default: [] },
    'relay-node-flag': { type: 'string', multiple: true },
    'without-start-flags': { type: 'boolean', default: false },
    'relay-url': { type: 'string' },
    'relay-pid': { type: 'string' },
    'admin-password': { type: 'string' },
    'plc-port': { type: 'string' },
    sweep: { type: 'string' },
    repeat: { type: 'string' },
    'p99-limit': { type: 'string' },
    'every-rate': { type: 'boolean', default: false },
    compare: { type: 'string' },
    pairs: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
})

if (values.help) {
  console.log(`npm run loadgen -- [options]
  --rate N              commits per second offered over all hosts (default 4000)
  --seconds N           measured window (default 60), after --warmup N seconds (default 15)
  --hosts N             simulated PDS hosts (default 20)
  --accounts N          accounts spread over the hosts (default 2000; 90% k256, 10% p256 keys)
  --records N           records in each repo before the first commit (default 300: MST depth)
  --serve-repos         the hosts serve getRepo: each repo as of the events sent so far (for a
                        relay in archival mode, whose mirror repairs each account on its first
                        commit); the starting repos are made once and cached beside the events
  --consumers N         live consumers measuring latency (default 10)
  --seed N              workload seed (default 1); the workload is cached per parameters
  --cache DIR           workload cache (default data/loadgen/cache)
  --results FILE        results appended here as JSON lines (default data/loadgen/results.jsonl)
  --drain-seconds N     longest wait after the last send for consumers to catch up (default 30)
  --slow-consumers N    early in the window (after a first memory probe with our relay), N more
                        subscribers that never read (each from its own loopback address); they
                        leave after --slow-seconds (default 20), and the result's slowConsumers
                        says what RSS they cost and what came back
  Our relay (default: started as a child process on a temporary data directory, SQLite):
  --only-shard I/N      send only the events of the accounts the relay's N account shards
                        give to shard I: every event on one shard, to see how the shards
                        share verification (takes N times the cached events, plus 5%)
  --relay-flag FLAG     a relay flag (repeatable), e.g. --relay-flag=--verify-workers=2
                        or --relay-flag=--db-url=postgres://...
  --relay-env KEY=VALUE environment for the relay (repeatable), e.g. LD_PRELOAD=...
  --relay-node-flag F   a Node/V8 flag for the relay (repeatable), added after the ones npm
                        start passes (package.json's start script), so the figures are those
                        of the relay as shipped plus F (of two V8 flags of one name, the last wins)
  --without-start-flags leave npm start's flags out: the relay gets --relay-node-flag's alone
  --relay-log FILE      write the relay's log lines here when the run ends (with --sweep,
                        each run's replaces the last's)
  Any other relay, already running:
  --relay-url URL       its HTTP base (http://127.0.0.1:2470); hosts are added with the admin
                        requestCrawl and changeLimits routes when --admin-password is given,
                        else with the public com.atproto.sync.requestCrawl
  --relay-pid PID       its process, for CPU and memory figures
  --plc-port N          fix the mock PLC's port, so that relay can be pointed at it beforehand
  Finding the highest rate held (instead of --rate):
  --sweep FROM:TO:STEP  one run per rate, rising (or a list: --sweep 5000,6000,7000), our relay
                        started afresh for each (so not with --relay-url), the workload made
                        once for the highest rate; stops at the first run that does not hold:
                        every event to every consumer once, p99 within --p99-limit, the rate
                        offered in full. The last line is the sweep's summary: the highest rate
                        held and, for the first that was not, why and what limited it (the
                        machine's CPU, the relay's main thread, the load generator, queueing)
  --repeat N            runs per rate (default 1); a rate holds only if every run of it held
  --p99-limit MS        the p99 latency a rate must stay within (default 200)
  --every-rate          run every rate of the sweep, past the first that does not hold
  Comparing two builds of our relay at one rate (--rate, default 4000):
  --compare DIR         this checkout's relay (A) against the one in checkout DIR (B, its
                        dependencies installed), runs alternated in pairs: A B, B A, ... The last
                        line is the summary: the runs that held, and B's CPU per event against
                        A's over the pairs whose runs both held, in percent with its 95%
                        confidence interval (an interval that spans 0 shows no difference)
  --pairs N             pairs of runs (default 4; an even number cancels a steady drift)
  --p99-limit MS        as above, for which runs held`)
  process.exit(0)
}

const num = (name: string, v: string | undefined): number => positiveNumber('loadgen', name, v)
const env = keyValues('loadgen', 'relay-env', values['relay-env'])
const relayUrl = values['relay-url']
const sweeping = values.sweep !== undefined
const comparing = values.compare !== undefined
refuseWith(sweeping && values.rate !== undefined, '--rate and --sweep: give one or the other')
refuseWith(sweeping && comparing, '--sweep and --compare: give one or the other')
refuseWith(
  (sweeping || comparing) && relayUrl !== undefined,
  `--${sweeping ? 'sweep' : 'compare'} starts our relays afresh for each run, so it cannot drive --relay-url`,
)
for (const option of ['repeat', 'every-rate'] as const) {
  const given = option === 'every-rate' ? values[option] : values[option] !== undefined
  refuseWith(!sweeping && given, `--${option} only goes with --sweep`)
}
refuseWith(
  !sweeping && !comparing && values['p99-limit'] !== undefined,
  '--p99-limit only goes with --sweep or --compare',
)
refuseWith(!comparing && values.pairs !== undefined, '--pairs only goes with --compare')
const nodeFlags =
  relayUrl === undefined
    ? await relayNodeFlags(values['relay-node-flag'], values['without-start-flags'])
    : []
const optionsAt = (rate: number): LoadgenOptions => ({
  rate,
  seconds: num('seconds', values.seconds),
  warmupSeconds: num('warmup', values.warmup),
  hosts: Math.round(num('hosts', values.hosts)),
  accounts: Math.round(num('accounts', values.accounts)),
  records: Math.round(num('records', values.records)),
  consumers: Math.round(num('consumers', values.consumers)),
  seed: Math.round(num('seed', values.seed)),
  cacheDir: values.cache,
  drainSeconds: num('drain-seconds', values['drain-seconds']),
  slowConsumers:
    values['slow-consumers'] === '0'
      ? 0
      : Math.round(num('slow-consumers', values['slow-consumers'])),
  slowSeconds: num('slow-seconds', values['slow-seconds']),
  serveRepos: values['serve-repos'],
  onlyShard: shardSelection(values['only-shard']),
  relayLog: values['relay-log'],
  relay:
    relayUrl === undefined
      ? { kind: 'local', flags: values['relay-flag'], env, nodeFlags }
      : {
          kind: 'external',
          url: relayUrl,
          pid:
            values['relay-pid'] === undefined ? undefined : num('relay-pid', values['relay-pid']),
          adminPassword: values['admin-password'],
          plcPort:
            values['plc-port'] === undefined ? undefined : num('plc-port', values['plc-port']),
        },
  log: (line) => console.error(`loadgen: ${line}`),
})

/** Prints a result line and appends it to the results file. */
async function record(result: Record<string, unknown>): Promise<void> {
  const line = JSON.stringify(result)
  console.log(line)
  await mkdir(join(values.results, '..'), { recursive: true })
  await appendFile(values.results, `${line}\n`)
}

if (comparing) {
  await compare(values.compare!)
} else if (values.sweep === undefined) {
  await record(await runLoadgen(optionsAt(num('rate', values.rate ?? '4000'))))
} else {
  let rates: number[]
  try {
    rates = sweepRates(values.sweep)
  } catch (err) {
    if (!(err instanceof SweepSpecError)) throw err
    console.error(`loadgen: ${err.message}`)
    process.exit(2)
  }
  const repeat = num('repeat', values.repeat ?? '1')
  refuseWith(!Number.isInteger(repeat), `--repeat wants a whole number, not ${values.repeat}`)
  const p99Limit = p99LimitOf()
  // The highest rate's workload first: every lower rate then sends its first events.
  await loadgenWorkload(optionsAt(rates.at(-1)!))
  const runs: SweptResult[] = []
  sweep: for (const rate of rates) {
    for (let i = 0; i < repeat; i++) {
      console.error(`loadgen: sweep: ${rate}/s, run ${i + 1} of ${repeat}`)
      const run = await measured(optionsAt(rate), {}, 'sweep')
      runs.push(run)
      if (!values['every-rate'] && !judgeRun(run, p99Limit).held) break sweep
    }
  }
  await record({
    date: new Date().toISOString(),
    sweep: {
      rates,
      repeat,
      ...runSettings(rates[0]!),
      ...sweepSummary(runs, p99Limit, availableParallelism()),
    },
  })
}

/**
 * One run of a sweep or a comparison: its result line recorded (with `extra` fields), and what
 * the verdicts read of it. A relay that died under load is that run's answer, recorded as a
 * failed run, so the summary still comes.
 */
async function measured(
  opts: LoadgenOptions,
  extra: Record<string, unknown>,
  what: 'sweep' | 'compare',
): Promise<SweptResult> {
  try {
    const result = await runLoadgen(opts)
    await record({ ...result, ...extra })
    return sweptResult(result)
  } catch (err) {
    const failed = failedRun(opts.rate, opts.seconds, err)
    console.error(`loadgen: ${what}: the run at ${opts.rate}/s failed: ${failed.error}`)
    return failed
  }
}

/** What a summary line says of the runs' settings, the same for every run in it. */
function runSettings(rate: number) {
  const { seconds, warmupSeconds, hosts, accounts, consumers } = optionsAt(rate)
  return { seconds, warmupSeconds, hosts, accounts, consumers, relayFlags: values['relay-flag'] }
}

/** `--p99-limit`, for the verdicts of a sweep or a comparison. */
function p99LimitOf(): number {
  return num('p99-limit', values['p99-limit'] ?? '200')
}

/** `--compare DIR`: pairs of runs of this checkout's relay and DIR's, alternated; a summary. */
async function compare(dir: string): Promise<void> {
  const other = resolve(dir)
  const otherMain = join(other, 'src', 'main.ts')
  refuseWith(!existsSync(otherMain), `--compare: no src/main.ts in ${other}`)
  refuseWith(
    !existsSync(join(other, 'node_modules')),
    `--compare: ${other} has no node_modules (npm install there, or link this checkout's)`,
  )
  const pairs = num('pairs', values.pairs ?? '4')
  refuseWith(!Number.isInteger(pairs), `--pairs wants a whole number, not ${values.pairs}`)
  const rate = num('rate', values.rate ?? '4000')
  const p99Limit = p99LimitOf()
  await loadgenWorkload(optionsAt(rate))
  const runs: ComparedRun[] = []
  for (let pair = 0; pair < pairs; pair++) {
    for (const side of pairOrder(pair)) {
      console.error(`loadgen: compare: pair ${pair + 1} of ${pairs}, side ${side.toUpperCase()}`)
      const base = optionsAt(rate)
      const opts: LoadgenOptions =
        side === 'b' && base.relay.kind === 'local'
          ? { ...base, relay: { ...base.relay, main: otherMain } }
          : base
      runs.push({ pair, side, result: await measured(opts, { compare: side, pair }, 'compare') })
    }
  }
  await record({
    date: new Date().toISOString(),
    compare: {
      a: resolve(fileURLToPath(new URL('../', import.meta.url))),
      b: other,
      pairs,
      ...runSettings(rate),
      ...compareSummary(rate, runs, p99Limit),
    },
  })
}

/** Exits 2 with `message` when `refused`. */
function refuseWith(refused: boolean, message: string): void {
  if (!refused) return
  console.error(`loadgen: ${message}`)
  process.exit(2)
}

/** `--only-shard I/N` as numbers; undefined when not given. */
function shardSelection(text: string | undefined): { index: number; count: number } | undefined {
  if (text === undefined) return undefined
  const m = /^(\d+)\/(\d+)$/.exec(text)
  const index = Number(m?.[1])
  const count = Number(m?.[2])
  if (!m || count < 1 || index >= count) {
    console.error(`loadgen: --only-shard: expected I/N with I < N, got ${text}`)
    process.exit(2)
  }
  return { index, count }
}
