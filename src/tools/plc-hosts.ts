// The `relay plc-hosts` command: flags and environment → plcHosts (plc-hosts-run.ts), a progress
// line on stderr every few seconds and a summary at the end, nothing else. Exit codes: 0 done,
// 1 failed or interrupted (the state is kept: run the same command again to resume), 2 usage.
// SIGINT/SIGTERM abort the run after a checkpoint. The library is re-exported from here, so the
// main command line and other callers need one import.
// Deliberately not here: anything about how the export is read or counted.

import { parseArgs } from 'node:util'
import { parseHttpUrl } from '../config/addresses.ts'
import { RELAY_VERSION, userAgentFor } from '../config/config.ts'
import { InvalidValueError } from '../config/errors.ts'
import { parseInteger } from '../config/formats.ts'
import { type PlcHostsProgress, plcHosts } from './plc-hosts-run.ts'

export {
  countsPathFor,
  crawlableHost,
  type PlcHostsOptions,
  type PlcHostsProgress,
  type PlcHostsResult,
  plcHosts,
} from './plc-hosts-run.ts'

export interface PlcHostsCommandIo {
  /** Where progress and errors go; default process.stderr. */
  readonly stderr?: (line: string) => void
  /** Where --help goes; default process.stdout. */
  readonly stdout?: (line: string) => void
  /** Seconds between progress lines; default 5. */
  readonly progressEverySeconds?: number
  /** Listen for SIGINT/SIGTERM while running; default true. */
  readonly handleSignals?: boolean
}

const DEFAULT_PLC = 'https://plc.directory'

export const PLC_HOSTS_USAGE = `Usage: relay plc-hosts [flags]

Pages through a PLC directory's export, counts the accounts whose latest operation declares each
PDS, and writes hosts.txt (one hostname per line, most accounts first) and hosts.counts.tsv
(count<TAB>host) beside it. Resumable: progress is kept in <out>.state.json and .journal; run the
same command again after an interruption (or later, to catch up with newer operations).

Flags:
  --plc-host URL              PLC directory (env RELAY_PLC_HOST, ATP_PLC_HOST; default ${DEFAULT_PLC})
  --out PATH                  hosts list to write (default hosts.txt)
  --state PATH                resume file (default <out>.state.json)
  --page-size N               operations per export request, 1-1000 (default 1000)
  --user-agent-contact TEXT   operator contact for the User-Agent (env RELAY_USER_AGENT_CONTACT)
  -h, --help                  this text
`

/** Runs `relay plc-hosts`; argv are the arguments after the command name. Returns an exit code. */
export async function plcHostsCommand(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  io: PlcHostsCommandIo = {},
): Promise<number> {
  const err = io.stderr ?? ((line: string) => process.stderr.write(`${line}\n`))
  const out = io.stdout ?? ((line: string) => process.stdout.write(`${line}\n`))
  const args = argv[0] === 'plc-hosts' ? argv.slice(1) : argv
  let parsed: ReturnType<typeof parseFlags>
  try {
    parsed = parseFlags(args, env)
  } catch (e) {
    if (!(e instanceof InvalidValueError) && !(e instanceof TypeError)) throw e
    err(`relay plc-hosts: ${e.message} (try: relay plc-hosts --help)`)
    return 2
  }
  if (parsed === 'help') {
    out(PLC_HOSTS_USAGE)
    return 0
  }

  const controller = new AbortController()
  const onSignal = () => controller.abort(new Error('interrupted'))
  const signals = io.handleSignals ?? true
  if (signals) {
    process.once('SIGINT', onSignal)
    process.once('SIGTERM', onSignal)
  }
  const every = (io.progressEverySeconds ?? 5) * 1000
  let lastPrint = Date.now()
  try {
    const result = await plcHosts({
      ...parsed,
      signal: controller.signal,
      onProgress: (p) => {
        const t = Date.now()
        if (t - lastPrint < every) return
        lastPrint = t
        err(progressLine(p))
      },
    })
    err(
      `plc-hosts: done: ${fmt(result.hosts)} hosts, ${fmt(result.dids)} accounts → ${parsed.out}; ` +
        `${fmt(result.operations)} operations, ${fmt(result.refused)} accounts on refused endpoints, ` +
        `${fmt(result.noPds)} without a PDS`,
    )
    return 0
  } catch (e) {
    if (controller.signal.aborted) {
      err('plc-hosts: interrupted; run the same command again to resume')
    } else {
      err(`relay plc-hosts: ${e instanceof Error ? e.message : String(e)}`)
    }
    return 1
  } finally {
    if (signals) {
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
    }
  }
}

function parseFlags(args: readonly string[], env: Readonly<Record<string, string | undefined>>) {
  const { values } = parseArgs({
    args: [...args],
    strict: true,
    allowPositionals: false,
    options: {
      'plc-host': { type: 'string' },
      out: { type: 'string' },
      state: { type: 'string' },
      'page-size': { type: 'string' },
      'user-agent-contact': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  if (values.help === true) return 'help' as const
  const plc = values['plc-host'] ?? env.RELAY_PLC_HOST ?? env.ATP_PLC_HOST ?? DEFAULT_PLC
  const plcUrl = withFlag('--plc-host', () => parseHttpUrl(plc))
  const pageText = values['page-size']
  const pageSize =
    pageText === undefined
      ? 1000
      : withFlag('--page-size', () => parseInteger(pageText, { min: 1, max: 1000 }))
  const outPath = values.out ?? 'hosts.txt'
  if (outPath.trim() === '') throw new InvalidValueError('--out: empty path')
  const contact = (values['user-agent-contact'] ?? env.RELAY_USER_AGENT_CONTACT ?? '').trim()
  if (contact !== '' && (!/^[\x20-\x7e]{1,200}$/.test(contact) || /[()\\]/.test(contact))) {
    throw new InvalidValueError(
      '--user-agent-contact: printable ASCII without parentheses or backslashes, at most 200 characters',
    )
  }
  return {
    plcUrl,
    out: outPath,
    ...(values.state === undefined ? {} : { statePath: values.state }),
    pageSize,
    userAgent: userAgentFor(RELAY_VERSION, contact === '' ? undefined : contact),
  }
}

function withFlag<T>(flag: string, parse: () => T): T {
  try {
    return parse()
  } catch (e) {
    if (e instanceof InvalidValueError) throw new InvalidValueError(`${flag}: ${e.message}`)
    throw e
  }
}

export function progressLine(p: PlcHostsProgress): string {
  return (
    `plc-hosts: ${fmt(p.operations)} operations, ${fmt(p.dids)} DIDs, ${fmt(p.hosts)} hosts, ` +
    `at ${p.after ?? '-'}, ${fmt(Math.round(p.rate))} ops/s`
  )
}

function fmt(n: number): string {
  return n.toLocaleString('en-US')
}
