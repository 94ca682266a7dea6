// Command-line entry point (`relay ...`; `npm start` runs `relay serve`). Reads the configuration
// once (flags > environment > .env > defaults), then runs the command. SIGINT/SIGTERM stop the
// relay gracefully (a second signal exits at once).

import { getCompileCacheDir } from 'node:module'
import { getHeapStatistics } from 'node:v8'
import { cacheMemoryWarning } from './accounts/cache-memory.ts'
import { describeConfig } from './config/describe.ts'
import {
  ConfigError,
  environmentWithDotenv,
  helpText,
  loadConfig,
  parseCommandLine,
} from './config/index.ts'
import { createLogger } from './observability/logger.ts'
import { createRelay } from './relay.ts'
import { limitHeapGrowth } from './runtime/heap-growth.ts'
import { limitThreadYoungGeneration } from './runtime/thread-heap.ts'
import { adminCommand } from './tools/admin-cli.ts'
import { healthCommand } from './tools/health-check.ts'
import { plcHostsCommand } from './tools/plc-hosts.ts'
import {
  k256Backend,
  k256Library,
  nativeK256Error,
  systemK256Error,
} from './verify/crypto/signature.ts'

const COMMANDS = [
  { usage: 'relay serve [flags]', summary: 'run the relay' },
  {
    usage: 'relay admin <command> ...',
    summary: 'operate a running relay through its admin API (relay admin --help)',
  },
  {
    usage: 'relay plc-hosts [--out hosts.txt]',
    summary: 'build hosts.txt from a PLC directory export (resumable)',
  },
  { usage: 'relay check', summary: 'report the signature backends this install uses' },
  {
    usage: 'relay health [flags]',
    summary: "ask the relay at this configuration's --bind for /xrpc/_health (exit 0 when healthy)",
  },
  { usage: 'relay help', summary: 'this text' },
]

async function main(argv: readonly string[]): Promise<number> {
  // Tools with their own flags: handed everything after their name, and the environment with the
  // working directory's .env under it (as `serve` reads it).
  if (argv[0] === 'admin' || argv[0] === 'plc-hosts') {
    let env: Record<string, string | undefined>
    try {
      env = environmentWithDotenv(process.env, process.cwd())
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err
      console.error(`relay: ${err.message}`)
      return 2
    }
    return argv[0] === 'admin'
      ? adminCommand(argv.slice(1), env)
      : plcHostsCommand(argv.slice(1), env)
  }
  let command: string
  let help: boolean
  try {
    const line = parseCommandLine(argv)
    command = line.command || 'help'
    help = line.help
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`relay: ${err.message}`)
      return 2
    }
    throw err
  }
  if (help || command === 'help') {
    console.log(helpText(COMMANDS))
    return 0
  }
  if (command === 'check') {
    console.log(`node ${process.version}`)
    const why = nativeK256Error ? ` (libsecp256k1 unavailable: ${nativeK256Error.message})` : ''
    console.log(`k256 signatures: ${k256Backend}${k256Library ? `, ${k256Library}` : ''}${why}`)
    if (systemK256Error) console.log(`system libsecp256k1 not used: ${errorText(systemK256Error)}`)
    console.log('p256 signatures: node-crypto')
    console.log(
      `compile cache: ${getCompileCacheDir() ?? 'off (see src/runtime/compile-cache.mjs)'}`,
    )
    return 0
  }
  if (command !== 'serve' && command !== 'health') {
    console.error(`relay: unknown command "${command}" (try: relay help)`)
    return 2
  }
  let config: ReturnType<typeof loadConfig>
  try {
    config = loadConfig(argv, process.env, process.cwd())
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`relay: ${err.message}`)
      return 2
    }
    throw err
  }
  if (command === 'health') {
    return healthCommand(config.bind, {
      fetch: globalThis.fetch,
      stdout: process.stdout,
      stderr: process.stderr,
    })
  }
  const logger = createLogger(config.logLevel, config.logFormat)
  for (const w of config.warnings) logger.warn(w)
  const cacheWarning = cacheMemoryWarning({
    accountCacheSize: config.accountCacheSize,
    identityCacheSize: config.identityCacheSize,
    heapLimitBytes: getHeapStatistics().heap_size_limit,
  })
  if (cacheWarning) logger.warn(cacheWarning)
  // Null when the relay was started without src/runtime/compile-cache.mjs (or it could not write
  // its directory): every thread then loads Node's type stripper, tens of MB more memory.
  const compileCache = getCompileCacheDir() ?? null
  // Before any thread starts: the process-wide V8 settings are the process entry's to make.
  const threadSemiSpaceMb = limitThreadYoungGeneration()
  const heapGrowingPercent = limitHeapGrowth()
  logger.info(
    {
      config: describeConfig(config),
      k256: k256Backend,
      k256Library,
      compileCache,
      threadSemiSpaceMb,
      heapGrowingPercent,
    },
    'starting',
  )
  if (systemK256Error !== undefined && systemK256Error.reason !== 'skipped') {
    // None installed is the usual case on a bare machine; an unusable library is a mistake.
    logger[systemK256Error.reason === 'unusable' ? 'warn' : 'info'](
      { reason: errorText(systemK256Error), using: k256Library ?? 'node:crypto' },
      'k256 signatures do not use the system libsecp256k1; with it ' +
        '(Debian: apt install libsecp256k1-1) each check costs about a quarter less',
    )
  }
  if (config.adminPasswords.length === 0) {
    logger.warn(
      'no admin key configured (--admin-password / RELAY_ADMIN_PASSWORD): the admin API is off',
    )
  }
  const relay = await createRelay(config, logger)
  try {
    await relay.start()
  } catch (err) {
    logger.fatal({ err }, `cannot start: ${err instanceof Error ? err.message : String(err)}`)
    await relay.stop().catch(() => {})
    return 1
  }
  let failed = false
  await new Promise<void>((resolve) => {
    let stopping = false
    const stop = () => {
      stopping = true
      relay.stop().then(resolve, (err: unknown) => {
        logger.error({ err }, 'shutdown failed')
        resolve()
      })
    }
    const onSignal = (signal: string) => {
      if (stopping) {
        logger.warn({ signal }, 'second signal: exiting now')
        process.exit(1)
      }
      logger.info({ signal }, 'shutting down')
      stop()
    }
    process.on('SIGINT', () => onSignal('SIGINT'))
    process.on('SIGTERM', () => onSignal('SIGTERM'))
    // A part the relay cannot go on without has failed (it logged why): stop as on a signal,
    // and exit with an error so that a supervisor restarts the relay.
    void relay.failure.then(() => {
      failed = true
      if (!stopping) stop()
    })
  })
  return failed ? 70 : 0
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (err: unknown) => {
    console.error('relay: fatal:', err)
    process.exitCode = 1
  },
)

/** An error's message with its cause's, for a one-line report. */
function errorText(err: Error): string {
  return err.cause instanceof Error ? `${err.message}: ${err.cause.message}` : err.message
}
