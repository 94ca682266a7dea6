// describeConfig: the whole RelayConfig as plain JSON-ready data for the startup log line, with
// every secret redacted (admin keys become `***`, the database password `***`), listen
// addresses as `host:port`, durations as text (`replayWindow: '72h'`), and, under `sources`,
// where each setting not at its default came from.
// Deliberately not here: choosing a logger or a format (observability/ does that).

import { formatListen } from './addresses.ts'
import type { RelayConfig, SettingSource } from './config.ts'
import { redactDatabaseUrl } from './database-url.ts'
import { formatDuration } from './formats.ts'

export const REDACTED = '***'

export function describeConfig(config: RelayConfig): Record<string, unknown> {
  const describeDb = (db: RelayConfig['database']) =>
    db.kind === 'sqlite'
      ? { kind: 'sqlite', path: db.path }
      : { kind: 'postgres', url: redactDatabaseUrl(db.url), maxConnections: db.maxConnections }
  const database = describeDb(config.database)
  const sources: Record<string, string> = {}
  for (const [flag, source] of Object.entries(config.sources)) {
    if (source.kind !== 'default') sources[flag] = describeSource(source)
  }
  return {
    version: config.version,
    userAgent: config.userAgent,
    bind: formatListen(config.bind),
    metricsListen: formatListen(config.metricsListen),
    maxConsumers: config.maxConsumers,
    maxConnectionsPerIp: config.maxConnectionsPerIp,
    consumerBufferBytes: config.consumerBufferBytes,
    consumerBufferTotalBytes: config.consumerBufferTotalBytes,
    maxHttpConnectionsPerIp: config.maxHttpConnectionsPerIp,
    trustedProxies: config.trustedProxies.map((proxy) => `${proxy.address}/${proxy.prefixLength}`),
    adminPasswords: config.adminPasswords.map(() => REDACTED),
    siblingRelays: [...config.siblingRelays],
    database,
    archive: {
      enabled: config.archive.enabled,
      database: describeDb(config.archive.database),
      maxRepoBytes: config.archive.maxRepoBytes,
    },
    persistDir: config.persistDir,
    replayWindow: formatDuration(config.replayWindowMs),
    fsyncInterval: formatDuration(config.fsyncIntervalMs),
    checkpointInterval: formatDuration(config.checkpointIntervalMs),
    accountCacheSize: config.accountCacheSize,
    initialSeqNumber: config.initialSeqNumber,
    allowInsecureHosts: config.allowInsecureHosts,
    disableRequestCrawl: config.disableRequestCrawl,
    defaultAccountLimit: config.defaultAccountLimit,
    newHostsPerDayLimit: config.newHostsPerDayLimit,
    trustedDomains: [...config.trustedDomains],
    hostConcurrency: config.hostConcurrency,
    upstreamThreads: config.upstreamThreads,
    userAgentContact: config.userAgentContact ?? null,
    syncValidation: config.syncValidation,
    syncRatchetCommits: config.syncRatchetCommits,
    verifyWorkers: config.verifyWorkers,
    verifyOnMain: `${Math.round(config.verifyOnMainBusy * 100)}%`,
    accountShards: config.accountShards,
    plcUrl: config.plcUrl,
    identityCacheSize: config.identityCacheSize,
    identityTtl: formatDuration(config.identityTtlMs),
    logLevel: config.logLevel,
    logFormat: config.logFormat,
    environment: config.environment,
    tracing: { ...config.tracing },
    sources,
  }
}

/** `--api-listen`, `env RELAY_API_LISTEN`, `.env RELAY_API_LISTEN (/srv/relay/.env:3)`. */
export function describeSource(source: SettingSource): string {
  switch (source.kind) {
    case 'flag':
      return source.name
    case 'env':
      return `env ${source.name}`
    case 'dotenv':
      return `.env ${source.name} (${source.file}:${source.line})`
    case 'default':
      return 'default'
  }
}
