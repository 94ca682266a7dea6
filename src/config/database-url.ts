// The `--db-url` format: `sqlite://relative/path` (against the working directory),
// `sqlite:///absolute/path`, and `postgres://` or `postgresql://` connection URLs (kept as given
// for the driver). Also the one redaction of database URLs used by error messages and
// describeConfig: the password in the authority and any `password=`/`sslpassword=` query
// parameter become `***`; when the URL is too malformed to tell, the whole userinfo goes.
// Deliberately not here: connecting, or checking that the file or server exists.

import { isAbsolute, resolve } from 'node:path'
import { InvalidValueError } from './errors.ts'
import { quote } from './formats.ts'

export type DatabaseConfig =
  | { readonly kind: 'sqlite'; readonly path: string /* absolute */ }
  | { readonly kind: 'postgres'; readonly url: string; readonly maxConnections: number }

const EXAMPLES =
  '(examples: sqlite://data/relay/relay.sqlite, sqlite:///var/lib/relay/relay.sqlite, postgres://relay:PASSWORD@localhost:5432/relay)'

export function parseDatabaseUrl(
  text: string,
  cwd: string,
  maxConnections: number,
): DatabaseConfig {
  const trimmed = text.trim()
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(trimmed)?.[1]?.toLowerCase()
  if (scheme === 'sqlite') {
    if (!trimmed.slice(0, 9).toLowerCase().startsWith('sqlite://')) {
      throw new InvalidValueError(
        `${quote(redactDatabaseUrl(text))} must start with sqlite:// ${EXAMPLES}`,
      )
    }
    const path = trimmed.slice('sqlite://'.length)
    if (path === '' || path === '/') {
      throw new InvalidValueError(`${quote(text)} names no file ${EXAMPLES}`)
    }
    if (path.includes('?')) {
      throw new InvalidValueError(`${quote(text)}: sqlite URLs take no parameters`)
    }
    return { kind: 'sqlite', path: isAbsolute(path) ? resolve(path) : resolve(cwd, path) }
  }
  if (scheme === 'postgres' || scheme === 'postgresql') {
    let url: URL
    try {
      url = new URL(trimmed)
    } catch {
      throw new InvalidValueError(
        `${quote(redactDatabaseUrl(text))} is not a valid URL ${EXAMPLES}`,
      )
    }
    if (url.hostname === '' && !url.searchParams.has('host')) {
      throw new InvalidValueError(`${quote(redactDatabaseUrl(text))} names no host ${EXAMPLES}`)
    }
    return { kind: 'postgres', url: trimmed, maxConnections }
  }
  throw new InvalidValueError(
    `${quote(redactDatabaseUrl(text))} is not a sqlite:// or postgres:// URL ${EXAMPLES}`,
  )
}

/** The URL with its password replaced by `***`; safe to log. */
export function redactDatabaseUrl(text: string): string {
  const withoutParams = text.replace(/([?&](?:ssl)?password=)[^&#]*/gi, '$1***')
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(withoutParams)?.[0]
  if (scheme === undefined) return withoutParams
  const rest = withoutParams.slice(scheme.length)
  const authorityEnd = rest.search(/[/?#]/)
  const authority = authorityEnd < 0 ? rest : rest.slice(0, authorityEnd)
  const at = authority.lastIndexOf('@')
  if (at >= 0) {
    const userinfo = authority.slice(0, at)
    const colon = userinfo.indexOf(':')
    if (colon < 0) return withoutParams
    return `${scheme}${userinfo.slice(0, colon)}:***${rest.slice(at)}`
  }
  // An '@' past a '/', '?' or '#' may be a password holding one of those unencoded: drop
  // everything before the last '@' rather than risk printing part of it.
  const lastAt = rest.lastIndexOf('@')
  if (lastAt >= 0 && rest.slice(0, lastAt).includes(':')) {
    return `${scheme}***${rest.slice(lastAt)}`
  }
  return withoutParams
}
