// Public surface of configuration: loadConfig reads flags, environment and `.env` once at start;
// parseCommandLine and helpText serve the `relay` entry point; describeConfig feeds the startup
// log line with secrets redacted. Everything else in this folder is internal.

export type { ListenAddress, TrustedProxy } from './addresses.ts'
export { formatListen } from './addresses.ts'
export type { CommandHelp, CommandLine, FlagValue } from './cli.ts'
export { helpText, parseCommandLine } from './cli.ts'
export type {
  DatabaseConfig,
  LogLevel,
  RelayConfig,
  SettingSource,
  SyncValidation,
  TracingConfig,
} from './config.ts'
export { RELAY_PRODUCT, RELAY_VERSION, userAgentFor } from './config.ts'
export { redactDatabaseUrl } from './database-url.ts'
export { describeConfig, describeSource, REDACTED } from './describe.ts'
export type { ConfigErrorCode } from './errors.ts'
export { ConfigError } from './errors.ts'
export { formatDuration } from './formats.ts'
export { environmentWithDotenv, loadConfig } from './load.ts'
export type { SettingDef, SettingGroup, SettingKind } from './settings.ts'
export { SETTINGS } from './settings.ts'
