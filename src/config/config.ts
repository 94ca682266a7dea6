// The relay's configuration as the rest of the program sees it: RelayConfig, read once at start
// by loadConfig (load.ts) and passed down in typed slices. Every setting of docs/design.md §5 plus the
// operational ones the service parts need; durations are milliseconds, paths absolute, listen
// addresses split into host and port. `sources` says where each value came from (the admin
// settings routes show it), `warnings` what was accepted but looks wrong.
// Also the relay's version and User-Agent, which depend only on package.json and the contact.
// Deliberately not here: reading flags, variables or files (load.ts), printing (describe.ts).

import packageJson from '../../package.json' with { type: 'json' }
import type { SyncMode } from '../verify/validation-mode.ts'
import type { ListenAddress, TrustedProxy } from './addresses.ts'
import type { DatabaseConfig } from './database-url.ts'
import type { LogLevel } from './formats.ts'

export type { ListenAddress, TrustedProxy } from './addresses.ts'
export type { DatabaseConfig } from './database-url.ts'
export type { LogLevel } from './formats.ts'

/** The relay-wide `--sync-validation` default: one of the hosts' sync modes. */
export type SyncValidation = SyncMode

/** Where a setting's value can come from, in the order they lose to each other. */
export const SETTING_ORIGINS = ['default', 'dotenv', 'env', 'flag'] as const
export type SettingOriginKind = (typeof SETTING_ORIGINS)[number]

/** Where a setting's value came from. `name` is the flag as typed or the variable's name. */
export type SettingSource =
  | { readonly kind: 'flag'; readonly name: string }
  | { readonly kind: 'env'; readonly name: string }
  | { readonly kind: 'dotenv'; readonly name: string; readonly file: string; readonly line: number }
  | { readonly kind: 'default' }

export interface TracingConfig {
  readonly enabled: boolean
  readonly otlpEndpoint: string
}

export interface RelayConfig {
  /** package.json version. */
  readonly version: string
  /** `atproto-relay/<version> (+<contact>)`, sent on every outbound request. */
  readonly userAgent: string

  // Listening and consumers
  readonly bind: ListenAddress
  readonly metricsListen: ListenAddress
  readonly maxConsumers: number
  readonly maxConnectionsPerIp: number
  /** Bytes one consumer may have waiting to be sent before `ConsumerTooSlow`. */
  readonly consumerBufferBytes: number
  /** Bytes all consumers together may have waiting; the ones holding most are cut past it. */
  readonly consumerBufferTotalBytes: number
  /** HTTP connections per client address (0: no cap); firehose consumers not included. */
  readonly maxHttpConnectionsPerIp: number
  readonly trustedProxies: readonly TrustedProxy[]

  // Admin
  /** Admin API keys (secret). Empty: the admin API is off. */
  readonly adminPasswords: readonly string[]
  /** Origins of sibling relays, without trailing slash. */
  readonly siblingRelays: readonly string[]

  // Storage and event log
  readonly database: DatabaseConfig
  /** Archival mode (`--archive`): off, or where the mirror of every repo lives. */
  readonly archive: ArchiveConfig
  readonly persistDir: string
  readonly replayWindowMs: number
  /** 0: fsync after every write batch. */
  readonly fsyncIntervalMs: number
  /** How often account states and host cursors are written (a checkpoint). */
  readonly checkpointIntervalMs: number
  /** Account states kept in memory (least recently used evicted once written). */
  readonly accountCacheSize: number
  readonly initialSeqNumber: number

  // Upstream hosts
  readonly allowInsecureHosts: boolean
  readonly disableRequestCrawl: boolean
  readonly defaultAccountLimit: number
  readonly newHostsPerDayLimit: number
  /** Lowercased hostnames or `*.suffix` patterns. */
  readonly trustedDomains: readonly string[]
  readonly hostConcurrency: number
  /** Threads that run upstream sockets and read their frames; 0: the main thread does. */
  readonly upstreamThreads: number
  readonly userAgentContact: string | undefined

  // Verification
  readonly syncValidation: SyncValidation
  readonly syncRatchetCommits: number
  /** Verify worker threads; 0: the main thread verifies every event (one worker for whole repos). */
  readonly verifyWorkers: number
  /**
   * The main thread's event-loop busy fraction (0 to 1) below which it verifies events itself
   * rather than handing them to a worker (ingest/verify-on-main.ts); 0: never; 1 (always) with
   * no verify workers. Not used with account shards.
   */
  readonly verifyOnMainBusy: number
  /**
   * Account shards (docs/scaling.md): threads that each own the accounts whose DID hashes to
   * them and run ingest and verification for them; 0: ingest runs on the main thread.
   */
  readonly accountShards: number

  // Identity
  /** PLC directory URL without trailing slash. */
  readonly plcUrl: string
  readonly identityCacheSize: number
  readonly identityTtlMs: number

  // Operations
  readonly logLevel: LogLevel
  /** `auto`: human-readable when stderr is a terminal, JSON otherwise. */
  readonly logFormat: 'auto' | 'json' | 'pretty'
  readonly environment: string
  readonly tracing: TracingConfig

  /** By canonical flag name (`bind`, `db-url`, ...): where the value came from. */
  readonly sources: Readonly<Record<string, SettingSource>>
  /** Things accepted but worth a log line (ignored aliases, unknown RELAY_* variables). */
  readonly warnings: readonly string[]
}

export interface ArchiveConfig {
  readonly enabled: boolean
  readonly database: DatabaseConfig
  /** Largest repo export a resync or repair reads. */
  readonly maxRepoBytes: number
}

export const RELAY_VERSION: string = packageJson.version

/** The product token every response's Server header and every request's User-Agent carry. */
export const RELAY_PRODUCT = 'atproto-relay'

/**
 * The `Server` header of every HTTP answer (API, firehose upgrades, metrics). It contains
 * RELAY_PRODUCT, which is how relays recognise each other and refuse to subscribe in a loop.
 */
export const SERVER_HEADER = `${RELAY_PRODUCT} (typescript)`

export function userAgentFor(version: string, contact: string | undefined): string {
  const product = `${RELAY_PRODUCT}/${version}`
  return contact === undefined ? product : `${product} (+${contact})`
}

/** Where a setting's value came from, by its flag name (`default` when nothing set it). */
export function originOf(config: Pick<RelayConfig, 'sources'>, flag: string): SettingOriginKind {
  return config.sources[flag]?.kind ?? 'default'
}
