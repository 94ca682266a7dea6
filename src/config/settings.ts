// The table of every setting the relay reads: its flag and flag aliases, environment variables
// (first one is the primary, the rest are aliases, many from the reference relay), whether the
// flag takes a value, its default as text (parsed like any other input), the help line and group.
// Help text, flag parsing and environment lookup all read this one array, so they cannot drift
// apart; load.ts turns the resolved text into typed values.
// Deliberately not here: parsing values (formats.ts, addresses.ts, database-url.ts), precedence
// (load.ts).

export type SettingKind =
  | 'value' // `--flag VALUE` or `--flag=VALUE`
  | 'boolean' // `--flag`, `--flag=false`, `--no-flag`
  | 'list' // repeatable, each value comma-separated; env holds one comma-separated list

export type SettingGroup =
  | 'Listening and consumers'
  | 'Admin'
  | 'Storage and event log'
  | 'Upstream hosts'
  | 'Verification'
  | 'Identity'
  | 'Operations'

export interface SettingDef {
  /** Canonical flag name, without dashes. */
  readonly flag: string
  readonly aliases: readonly string[]
  /** Environment variables, in the order they are consulted. */
  readonly env: readonly string[]
  readonly kind: SettingKind
  /** Placeholder for the value in help (`DURATION`, `HOST:PORT`). */
  readonly valueName: string
  /** Default as input text; undefined when the setting has none. */
  readonly default: string | undefined
  /** What help shows as the default when it is not the text itself (computed defaults). */
  readonly defaultText?: string
  readonly group: SettingGroup
  readonly help: string
  /** Never echoed: not in help defaults, errors, or describeConfig. */
  readonly secret?: boolean
}

type SettingInput = Omit<SettingDef, 'aliases' | 'valueName' | 'default'> &
  Partial<Pick<SettingDef, 'aliases' | 'valueName' | 'default'>>

const setting = (def: SettingInput): SettingDef => ({
  ...def,
  aliases: def.aliases ?? [],
  valueName: def.valueName ?? '',
  default: def.default,
})

export const SETTINGS: readonly SettingDef[] = [
  // Listening and consumers
  setting({
    flag: 'bind',
    aliases: ['api-listen'],
    env: ['RELAY_API_BIND', 'RELAY_API_LISTEN'],
    kind: 'value',
    valueName: 'HOST:PORT',
    default: ':2470',
    group: 'Listening and consumers',
    help: 'address for the public API and firehose (:PORT means every IPv4 interface; [::]:PORT for IPv6)',
  }),
  setting({
    flag: 'metrics-listen',
    env: ['RELAY_METRICS_LISTEN'],
    kind: 'value',
    valueName: 'HOST:PORT',
    default: ':2471',
    group: 'Listening and consumers',
    help: 'address for Prometheus /metrics',
  }),
  setting({
    flag: 'max-consumers',
    env: ['RELAY_MAX_CONSUMERS'],
    kind: 'value',
    valueName: 'N',
    default: '10000',
    group: 'Listening and consumers',
    help: 'firehose subscribers served at once; more are refused',
  }),
  setting({
    flag: 'max-connections-per-ip',
    env: ['RELAY_MAX_CONNECTIONS_PER_IP'],
    kind: 'value',
    valueName: 'N',
    default: '50',
    group: 'Listening and consumers',
    help: 'firehose subscribers from one client address',
  }),
  setting({
    flag: 'consumer-buffer',
    env: ['RELAY_CONSUMER_BUFFER'],
    kind: 'value',
    valueName: 'BYTES',
    default: '67108864',
    group: 'Listening and consumers',
    help: 'bytes one firehose subscriber may have waiting to be sent; past it, ConsumerTooSlow and closed',
  }),
  setting({
    flag: 'consumer-buffer-total',
    env: ['RELAY_CONSUMER_BUFFER_TOTAL'],
    kind: 'value',
    valueName: 'BYTES',
    default: '268435456',
    group: 'Listening and consumers',
    help: 'bytes all subscribers together may have waiting; past it, the ones holding most are cut',
  }),
  setting({
    flag: 'max-http-connections-per-ip',
    env: ['RELAY_MAX_HTTP_CONNECTIONS_PER_IP'],
    kind: 'value',
    valueName: 'N',
    default: '64',
    group: 'Listening and consumers',
    help: 'HTTP connections (behind a trusted proxy: requests in flight) from one client address; 0 means no limit',
  }),
  setting({
    flag: 'trusted-proxies',
    env: ['RELAY_TRUSTED_PROXIES'],
    kind: 'list',
    valueName: 'IP|CIDR,...',
    defaultText: 'none',
    group: 'Listening and consumers',
    help: 'reverse proxies whose X-Forwarded-For names the client address',
  }),

  // Admin
  setting({
    flag: 'admin-password',
    aliases: ['admin-key'],
    env: ['RELAY_ADMIN_PASSWORD', 'RELAY_ADMIN_KEY'],
    kind: 'list',
    valueName: 'KEY',
    defaultText: 'none (admin API off)',
    group: 'Admin',
    help: 'admin API key; repeat (or comma-separate) to accept several during rotation',
    secret: true,
  }),
  setting({
    flag: 'sibling-relays',
    env: ['RELAY_SIBLING_RELAYS'],
    kind: 'list',
    valueName: 'URL,...',
    defaultText: 'none',
    group: 'Admin',
    help: 'relays (https://relay.example.com) to forward admin changes to',
  }),

  // Storage and event log
  setting({
    flag: 'db-url',
    env: ['DATABASE_URL'],
    kind: 'value',
    valueName: 'URL',
    default: 'sqlite://data/relay/relay.sqlite',
    group: 'Storage and event log',
    help: 'state database: sqlite://relative/path, sqlite:///absolute/path or postgres://user:pass@host/db',
    secret: true,
  }),
  setting({
    flag: 'max-db-conn',
    env: ['MAX_DB_CONNECTIONS', 'MAX_METADB_CONNECTIONS'],
    kind: 'value',
    valueName: 'N',
    default: '40',
    group: 'Storage and event log',
    help: 'PostgreSQL connection pool size',
  }),
  setting({
    flag: 'archive',
    env: ['RELAY_ARCHIVE'],
    kind: 'boolean',
    default: 'false',
    group: 'Storage and event log',
    help: 'archival mode: keep a verified mirror of every repo and serve getRepo, getRecord and getBlocks from it',
  }),
  setting({
    flag: 'archive-db-url',
    env: ['RELAY_ARCHIVE_DATABASE_URL'],
    kind: 'value',
    valueName: 'URL',
    defaultText: 'repos.sqlite beside a SQLite --db-url; the --db-url database for PostgreSQL',
    group: 'Storage and event log',
    help: 'where archival mode keeps repos (sqlite:// or postgres://, like --db-url)',
    secret: true,
  }),
  setting({
    flag: 'repo-fetch-max-bytes',
    env: ['RELAY_REPO_FETCH_MAX_BYTES'],
    kind: 'value',
    valueName: 'BYTES',
    default: '1073741824',
    group: 'Storage and event log',
    help: 'largest repo export fetched from a PDS by a resync or repair (archival mode)',
  }),
  setting({
    flag: 'persist-dir',
    env: ['RELAY_PERSIST_DIR', 'RELAY_PERSISTER_DIR'],
    kind: 'value',
    valueName: 'DIR',
    default: 'data/relay/persist',
    group: 'Storage and event log',
    help: 'directory of the event log (firehose replay)',
  }),
  setting({
    flag: 'replay-window',
    env: ['RELAY_REPLAY_WINDOW', 'RELAY_EVENT_PLAYBACK_TTL'],
    kind: 'value',
    valueName: 'DURATION',
    default: '72h',
    group: 'Storage and event log',
    help: 'how long events stay available for replay',
  }),
  setting({
    flag: 'fsync-interval',
    env: ['RELAY_FSYNC_INTERVAL'],
    kind: 'value',
    valueName: 'DURATION',
    default: '1s',
    group: 'Storage and event log',
    help: 'how often the event log is fsynced (0: after every write batch); a machine crash can lose this much',
  }),
  setting({
    flag: 'checkpoint-interval',
    env: ['RELAY_CHECKPOINT_INTERVAL'],
    kind: 'value',
    valueName: 'DURATION',
    default: '3s',
    group: 'Storage and event log',
    help: 'how often account states, host cursors and newly resolved identities are written to the database; a restart replays the log since the last one',
  }),
  setting({
    flag: 'account-cache-size',
    env: ['RELAY_ACCOUNT_CACHE_SIZE'],
    kind: 'value',
    valueName: 'N',
    default: '1_000_000',
    group: 'Storage and event log',
    help: 'account states kept in memory (about 440 bytes each; the identity cache adds about 440 per DID)',
  }),
  setting({
    flag: 'initial-seq-number',
    env: ['RELAY_INITIAL_SEQ_NUMBER'],
    kind: 'value',
    valueName: 'N',
    default: '1',
    group: 'Storage and event log',
    help: 'first output seq of a new event log',
  }),

  // Upstream hosts
  setting({
    flag: 'allow-insecure-hosts',
    env: ['RELAY_ALLOW_INSECURE_HOSTS'],
    kind: 'boolean',
    default: 'false',
    group: 'Upstream hosts',
    help: 'allow ws:// and localhost:PORT hosts through requestCrawl (local development)',
  }),
  setting({
    flag: 'disable-request-crawl',
    env: ['RELAY_DISABLE_REQUEST_CRAWL'],
    kind: 'boolean',
    default: 'false',
    group: 'Upstream hosts',
    help: 'refuse public requestCrawl (admins can still add hosts)',
  }),
  setting({
    flag: 'default-account-limit',
    env: [
      'RELAY_DEFAULT_ACCOUNT_LIMIT',
      'RELAY_DEFAULT_REPO_LIMIT',
      'RELAY_DEFAULT_ACCOUUNT_LIMIT',
    ],
    kind: 'value',
    valueName: 'N',
    default: '100',
    group: 'Upstream hosts',
    help: 'active accounts a new host may have',
  }),
  setting({
    flag: 'new-hosts-per-day-limit',
    env: ['RELAY_NEW_HOSTS_PER_DAY_LIMIT'],
    kind: 'value',
    valueName: 'N',
    default: '50',
    group: 'Upstream hosts',
    help: 'new hosts accepted per day through public requestCrawl',
  }),
  setting({
    flag: 'trusted-domains',
    env: ['RELAY_TRUSTED_DOMAINS'],
    kind: 'list',
    valueName: 'DOMAIN,...',
    default: '*.host.bsky.network',
    group: 'Upstream hosts',
    help: 'hosts that get larger limits (*.suffix matches subdomains)',
  }),
  setting({
    flag: 'host-concurrency',
    env: ['RELAY_HOST_CONCURRENCY', 'RELAY_CONCURRENCY_PER_PDS'],
    kind: 'value',
    valueName: 'N',
    default: '40',
    group: 'Upstream hosts',
    help: 'events of one host in flight at once (different accounts)',
  }),
  setting({
    flag: 'upstream-threads',
    env: ['RELAY_UPSTREAM_THREADS'],
    kind: 'value',
    valueName: 'N',
    defaultText: '1 on four cores or more, else 0',
    group: 'Upstream hosts',
    help: "threads reading upstream sockets and frames; with --account-shards also each host's books (0: the main thread does)",
  }),
  setting({
    flag: 'user-agent-contact',
    env: ['RELAY_USER_AGENT_CONTACT'],
    kind: 'value',
    valueName: 'CONTACT',
    defaultText: 'none',
    group: 'Upstream hosts',
    help: 'operator contact (URL or email) added to the User-Agent of every outbound request',
  }),

  // Verification
  setting({
    flag: 'sync-validation',
    env: ['RELAY_SYNC_VALIDATION'],
    kind: 'value',
    valueName: 'auto|strict|lenient',
    default: 'auto',
    group: 'Verification',
    help: 'sync 1.1 checks: strict drops commits without a valid prevData, lenient counts them, auto ratchets each host to strict',
  }),
  setting({
    flag: 'lenient-sync-validation',
    env: ['RELAY_LENIENT_SYNC_VALIDATION'],
    kind: 'boolean',
    default: 'false',
    group: 'Verification',
    help: 'reference relay spelling of --sync-validation lenient (false changes nothing)',
  }),
  setting({
    flag: 'sync-ratchet-commits',
    env: ['RELAY_SYNC_RATCHET_COMMITS'],
    kind: 'value',
    valueName: 'N',
    default: '100',
    group: 'Verification',
    help: 'in auto mode, valid sync 1.1 commits in a row after which a host is strict',
  }),
  setting({
    flag: 'verify-workers',
    env: ['RELAY_VERIFY_WORKERS'],
    kind: 'value',
    valueName: 'N',
    defaultText: 'cores - 1; 1 or 2 on one or two cores',
    group: 'Verification',
    help: 'worker threads verifying commits (0: the main thread verifies every event; whole repos get one worker while there are any)',
  }),
  setting({
    flag: 'verify-on-main',
    env: ['RELAY_VERIFY_ON_MAIN'],
    kind: 'value',
    valueName: 'PERCENT',
    default: '90',
    group: 'Verification',
    help: 'the main thread verifies the events itself while it carries them with its event loop busy at most this much of the time, the workers beyond; less CPU in all than handing them to workers, which start when first needed and end after 5 minutes unused (0: workers verify every event, started with the relay)',
  }),
  setting({
    flag: 'account-shards',
    env: ['RELAY_ACCOUNT_SHARDS'],
    kind: 'value',
    valueName: 'N',
    default: '0',
    group: 'Verification',
    help: 'experimental: threads that each own a share of the accounts and run ingest for them (0: none)',
  }),

  // Identity
  setting({
    flag: 'plc-host',
    env: ['RELAY_PLC_HOST', 'ATP_PLC_HOST'],
    kind: 'value',
    valueName: 'URL',
    default: 'https://plc.directory',
    group: 'Identity',
    help: 'PLC directory (http:// allowed for local development)',
  }),
  setting({
    flag: 'identity-cache-size',
    aliases: ['ident-cache-size'],
    env: ['RELAY_IDENTITY_CACHE_SIZE', 'RELAY_IDENT_CACHE_SIZE', 'RELAY_DID_CACHE_SIZE'],
    kind: 'value',
    valueName: 'N',
    default: '1_000_000',
    group: 'Identity',
    help: 'DIDs kept in the identity cache',
  }),
  setting({
    flag: 'identity-ttl',
    env: ['RELAY_IDENTITY_TTL'],
    kind: 'value',
    valueName: 'DURATION',
    default: '1h',
    group: 'Identity',
    help: 'how long a resolved identity is used before it is resolved again',
  }),

  // Operations
  setting({
    flag: 'log-level',
    env: ['RELAY_LOG_LEVEL', 'LOG_LEVEL', 'GOLOG_LOG_LEVEL', 'GO_LOG_LEVEL'],
    kind: 'value',
    valueName: 'LEVEL',
    default: 'info',
    group: 'Operations',
    help: 'trace, debug, info, warn, error, fatal or silent (Go names such as WARNING accepted)',
  }),
  setting({
    flag: 'log-format',
    env: ['RELAY_LOG_FORMAT'],
    kind: 'value',
    valueName: 'FORMAT',
    default: 'auto',
    group: 'Operations',
    help: 'json (one JSON object per line), pretty (human-readable), or auto: pretty when stderr is a terminal',
  }),
  setting({
    flag: 'env',
    env: ['ENVIRONMENT'],
    kind: 'value',
    valueName: 'NAME',
    default: 'dev',
    group: 'Operations',
    help: 'hosting environment name (prod, staging...), used as a metrics label',
  }),
  setting({
    flag: 'enable-otel-tracing',
    env: ['RELAY_ENABLE_OTEL_TRACING'],
    kind: 'boolean',
    default: 'false',
    group: 'Operations',
    help: 'export OpenTelemetry traces',
  }),
  setting({
    flag: 'otel-exporter-otlp-endpoint',
    env: ['OTEL_EXPORTER_OTLP_ENDPOINT'],
    kind: 'value',
    valueName: 'URL',
    default: 'http://localhost:4318',
    group: 'Operations',
    help: 'OTLP collector for traces',
  }),
]

/** The setting a flag name (canonical or alias, without dashes) belongs to. */
export function findSetting(flagName: string): SettingDef | undefined {
  return SETTINGS.find((def) => def.flag === flagName || def.aliases.includes(flagName))
}
