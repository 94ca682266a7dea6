// loadConfig: flags, environment and `.env` in the working directory → one validated, frozen
// RelayConfig. Precedence is flags > environment > .env > defaults (resolve.ts); relative paths
// resolve against `cwd`. The first bad input throws a ConfigError naming the setting and where
// the text came from; secret values (admin keys, the database password) are never quoted.
// Positional words (the command) and --help/--version are left to the caller, which reads them
// from parseCommandLine.
// Deliberately not here: creating directories, opening the database, logging.

import { readFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { SYNC_MODES } from '../verify/validation-mode.ts'
import { parseDomainPattern, parseHttpUrl, parseListen, parseTrustedProxy } from './addresses.ts'
import { parseCommandLine } from './cli.ts'
import {
  RELAY_VERSION,
  type RelayConfig,
  type SettingSource,
  type SyncValidation,
  userAgentFor,
} from './config.ts'
import { type DatabaseConfig, parseDatabaseUrl } from './database-url.ts'
import { parseDotenv } from './dotenv.ts'
import { ConfigError, InvalidValueError } from './errors.ts'
import {
  type DurationBounds,
  type IntegerBounds,
  parseBoolean,
  parseChoice,
  parseDuration,
  parseInteger,
  parseLogLevel,
  quote,
} from './formats.ts'
import { type DotenvFile, type ResolvedSetting, resolveSettings } from './resolve.ts'

const HOUR = 3_600_000
const DAY = 24 * HOUR

export function loadConfig(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  cwd: string,
): RelayConfig {
  const commandLine = parseCommandLine(argv)
  const { settings, warnings: resolveWarnings } = resolveSettings(commandLine, env, readDotenv(cwd))
  const warnings = [...resolveWarnings]
  const get = (flag: string): ResolvedSetting => {
    const found = settings.get(flag)
    if (found === undefined) throw new Error(`no setting --${flag} in the settings table`)
    return found
  }
  /** Parse one setting's text, turning a parser's complaint into a ConfigError naming it. */
  const parse = <T>(flag: string, parser: (text: string) => T): T => {
    const setting = get(flag)
    const text = setting.text ?? ''
    try {
      return parser(text)
    } catch (error) {
      throw invalid(setting, error)
    }
  }
  const parseItems = <T>(flag: string, parser: (text: string) => T): T[] => {
    const setting = get(flag)
    return setting.items.map((item) => {
      try {
        return parser(item)
      } catch (error) {
        throw invalid(setting, error)
      }
    })
  }
  const int = (flag: string, bounds: IntegerBounds): number =>
    parse(flag, (text) => parseInteger(text, bounds))
  const duration = (flag: string, bounds: DurationBounds): number =>
    parse(flag, (text) => parseDuration(text, bounds))
  const bool = (flag: string): boolean => parse(flag, parseBoolean)
  const optional = (flag: string): string | undefined => get(flag).text

  const userAgentContact = parse('user-agent-contact', parseContact)
  const maxDbConnections = int('max-db-conn', { min: 1, max: 10_000 })
  const verifyWorkersText = optional('verify-workers')
  const verifyWorkers =
    verifyWorkersText === undefined
      ? defaultVerifyWorkers(availableParallelism())
      : int('verify-workers', { min: 0, max: 1024 })
  const verifyOnMain = int('verify-on-main', { min: 0, max: 100 }) / 100
  const upstreamThreadsText = optional('upstream-threads')
  const logLevel = parse('log-level', parseLogLevel)
  if (logLevel === undefined) {
    warnings.push(`${get('log-level').origin} sets only per-subsystem levels; using info`)
  }

  const database = parse('db-url', (text) => parseDatabaseUrl(text, cwd, maxDbConnections))
  const archiveDbText = optional('archive-db-url')
  const config: RelayConfig = {
    version: RELAY_VERSION,
    userAgent: userAgentFor(RELAY_VERSION, userAgentContact),
    bind: parse('bind', parseListen),
    metricsListen: parse('metrics-listen', parseListen),
    maxConsumers: int('max-consumers', { min: 1 }),
    maxConnectionsPerIp: int('max-connections-per-ip', { min: 1 }),
    consumerBufferBytes: int('consumer-buffer', { min: 64 * 1024, max: 64 * 1024 ** 3 }),
    consumerBufferTotalBytes: int('consumer-buffer-total', { min: 1024 ** 2, max: 1024 ** 4 }),
    maxHttpConnectionsPerIp: int('max-http-connections-per-ip', { min: 0 }),
    trustedProxies: parseItems('trusted-proxies', parseTrustedProxy),
    adminPasswords: get('admin-password').items,
    siblingRelays: parseItems('sibling-relays', parseHttpUrl),
    database,
    archive: Object.freeze({
      enabled: bool('archive'),
      database:
        archiveDbText === undefined
          ? defaultArchiveDatabase(database)
          : parse('archive-db-url', (text) => parseDatabaseUrl(text, cwd, maxDbConnections)),
      maxRepoBytes: int('repo-fetch-max-bytes', { min: 1024, max: 64 * 1024 ** 3 }),
    }),
    persistDir: parse('persist-dir', (text) => parsePath(text, cwd)),
    replayWindowMs: duration('replay-window', { minMs: 1000, maxMs: 3650 * DAY }),
    fsyncIntervalMs: duration('fsync-interval', { minMs: 0, maxMs: HOUR }),
    checkpointIntervalMs: duration('checkpoint-interval', { minMs: 100, maxMs: HOUR }),
    accountCacheSize: int('account-cache-size', { min: 1 }),
    initialSeqNumber: int('initial-seq-number', { min: 1 }),
    allowInsecureHosts: bool('allow-insecure-hosts'),
    disableRequestCrawl: bool('disable-request-crawl'),
    defaultAccountLimit: int('default-account-limit', { min: 0 }),
    newHostsPerDayLimit: int('new-hosts-per-day-limit', { min: 0 }),
    trustedDomains: parseItems('trusted-domains', parseDomainPattern),
    hostConcurrency: int('host-concurrency', { min: 1, max: 100_000 }),
    upstreamThreads:
      upstreamThreadsText === undefined
        ? defaultUpstreamThreads(availableParallelism())
        : int('upstream-threads', { min: 0, max: 256 }),
    userAgentContact,
    syncValidation: syncValidation(
      get('sync-validation'),
      get('lenient-sync-validation'),
      warnings,
    ),
    syncRatchetCommits: int('sync-ratchet-commits', { min: 1, max: 1_000_000 }),
    verifyWorkers,
    // With no verify workers the main thread verifies every event, whatever --verify-on-main says.
    verifyOnMainBusy: verifyWorkers === 0 ? 1 : verifyOnMain,
    accountShards: int('account-shards', { min: 0, max: 256 }),
    plcUrl: parse('plc-host', parseHttpUrl),
    identityCacheSize: int('identity-cache-size', { min: 1 }),
    identityTtlMs: duration('identity-ttl', { minMs: 1000, maxMs: 30 * DAY }),
    logLevel: logLevel ?? 'info',
    logFormat: parse('log-format', parseLogFormat),
    environment: parse('env', parseEnvironmentName),
    tracing: Object.freeze({
      // On with the flag, or as soon as the standard OTEL_EXPORTER_OTLP_ENDPOINT is set.
      enabled:
        bool('enable-otel-tracing') || get('otel-exporter-otlp-endpoint').source.kind !== 'default',
      otlpEndpoint: parse('otel-exporter-otlp-endpoint', parseHttpUrl),
    }),
    sources: Object.fromEntries([...settings].map(([flag, setting]) => [flag, setting.source])),
    warnings,
  }
  return deepFreeze(config)
}

/**
 * The environment as the tools (`relay admin`, `relay plc-hosts`) see it: the process environment,
 * over the `.env` file of `cwd` when there is one, so that an admin key or bind address written
 * there for `relay serve` serves them too.
 */
export function environmentWithDotenv(
  env: Readonly<Record<string, string | undefined>>,
  cwd: string,
): Record<string, string | undefined> {
  const file = readDotenv(cwd)
  const merged: Record<string, string | undefined> = {}
  for (const [name, entry] of file?.entries ?? []) merged[name] = entry.value
  for (const [name, value] of Object.entries(env))
    if (value !== undefined && value !== '') merged[name] = value
  return merged
}

function readDotenv(cwd: string): DotenvFile | undefined {
  const path = join(cwd, '.env')
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    const reason = (error as NodeJS.ErrnoException).code ?? String(error)
    throw new ConfigError('dotenv-unreadable', '.env', path, `cannot be read (${reason})`, {
      cause: error,
    })
  }
  return { path, entries: parseDotenv(text, path) }
}

/**
 * A parser's complaint as a ConfigError naming the setting. The parsers of secret settings quote
 * only redacted text (database-url.ts); admin keys are never parsed beyond splitting.
 */
function invalid(setting: ResolvedSetting, error: unknown): Error {
  if (!(error instanceof InvalidValueError)) return error as Error
  return new ConfigError('invalid-value', `--${setting.def.flag}`, setting.origin, error.message, {
    cause: error,
  })
}

const RANK: Readonly<Record<SettingSource['kind'], number>> = {
  default: 0,
  dotenv: 1,
  env: 2,
  flag: 3,
}

/**
 * `--sync-validation` and the reference relay's `--lenient-sync-validation` /
 * `RELAY_LENIENT_SYNC_VALIDATION=true` name the same thing. The one from the stronger source
 * wins; the same source giving both different answers is a conflict. `false` means "no opinion"
 * (it is the reference relay's default, copied into many .env files), never strict.
 */
function syncValidation(
  mode: ResolvedSetting,
  lenient: ResolvedSetting,
  warnings: string[],
): SyncValidation {
  const parseMode = (text: string): SyncValidation => parseChoice(text, SYNC_MODES)
  let chosen: SyncValidation
  let lenientOn: boolean
  try {
    chosen = parseMode(mode.text ?? '')
  } catch (error) {
    throw invalid(mode, error)
  }
  try {
    lenientOn = parseBoolean(lenient.text ?? '')
  } catch (error) {
    throw invalid(lenient, error)
  }
  if (!lenientOn || chosen === 'lenient') return chosen
  const modeRank = RANK[mode.source.kind]
  const lenientRank = RANK[lenient.source.kind]
  if (lenientRank > modeRank) return 'lenient'
  if (lenientRank === modeRank) {
    throw new ConfigError(
      'conflict',
      '--sync-validation',
      mode.origin,
      `${quote(chosen)} contradicts ${lenient.origin} (lenient); give only one of them`,
    )
  }
  warnings.push(
    `${lenient.origin} (lenient) is overridden by ${mode.origin} (${chosen}), which takes precedence`,
  )
  return chosen
}

function parsePath(text: string, cwd: string): string {
  if (text.trim() === '') throw new InvalidValueError('is empty (give a directory)')
  return resolve(cwd, text.trim())
}

function parseContact(text: string): string | undefined {
  const trimmed = text.trim()
  if (trimmed === '') return undefined
  if (!/^[\x20-\x7e]{1,200}$/.test(trimmed) || /[()\\]/.test(trimmed)) {
    throw new InvalidValueError(
      `${quote(text)} cannot go in a User-Agent (printable ASCII without parentheses or backslashes, at most 200 characters; examples: https://relay.example.com, ops@example.com)`,
    )
  }
  return trimmed
}

function parseLogFormat(text: string): 'auto' | 'json' | 'pretty' {
  const t = text.trim().toLowerCase()
  if (t === 'auto' || t === 'json' || t === 'pretty') return t
  throw new InvalidValueError(`${quote(text)} is not a log format (auto, json or pretty)`)
}

function parseEnvironmentName(text: string): string {
  const trimmed = text.trim()
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(trimmed)) {
    throw new InvalidValueError(
      `${quote(text)} is not an environment name (letters, digits, . _ -; examples: prod, staging)`,
    )
  }
  return trimmed
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const child of Object.values(value)) deepFreeze(child)
  }
  return value
}

/** Archival mode's database when none is named: a file beside a SQLite state database, or the
 * same PostgreSQL database (its tables sit beside the relay's). */
function defaultArchiveDatabase(state: DatabaseConfig): DatabaseConfig {
  return state.kind === 'sqlite'
    ? { kind: 'sqlite', path: join(dirname(state.path), 'repos.sqlite') }
    : state
}

/**
 * Verify workers when `--verify-workers` is not given: one per core but the main thread's on
 * most machines, and one per core on one or two: there the main thread needs under half a core
 * at the rates one core can verify, so a single worker would leave the rest of the second core
 * idle while commits queue (BENCHMARKS.md: 3,000 commits/s at p99 105 ms with two workers, p99
 * 2.6 s with one; the second isolate costs ~60 MB).
 */
export function defaultVerifyWorkers(cores: number): number {
  return cores <= 2 ? Math.max(1, cores) : cores - 1
}

/**
 * Upstream socket threads when `--upstream-threads` is not given: one from four cores up, where
 * the main thread, not the verify workers, is the first limit; it takes 15–24% of the main
 * thread's work per event (BENCHMARKS.md, session 8) for ~50 MB more resident memory.
 * None on fewer cores: there every core is already busy verifying, and on two the thread raised
 * nothing (the same ceiling, more CPU in all, more memory).
 */
export function defaultUpstreamThreads(cores: number): number {
  return cores >= 4 ? 1 : 0
}
