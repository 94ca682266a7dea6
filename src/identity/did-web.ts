// Where a did:web's document lives (https://atproto.com/specs/did, "did:web in AT Protocol"):
// `https://{host}/.well-known/did.json`, hostname-level DIDs only. Pure.
//
// Checked: the DID decodes to a host (shared syntax module); path-based did:web is refused; the
// host follows the handle rules (two or more labels, TLD starting with a letter, none of the
// reserved TLDs such as .local or .arpa); a port appears only on a loopback host; loopback hosts
// (`localhost`, `127.0.0.1`) are refused unless `allowInsecureWeb`, and with it plain http is
// used when (and only when) a port is given, as local development servers do.
// Deliberately not checked: what the host resolves to (SSRF policy for hosts lives in src/hosts/;
// a did:web document is only ever read, never acted on beyond the identity it states).
// Not supported: IPv6 literals such as `[::1]`, which the did:web syntax cannot express without
// percent-escapes the shared syntax module refuses.

import {
  didWebHost,
  InvalidSyntaxError,
  isDisallowedHandleTld,
  isValidHandle,
} from '../protocol/syntax/index.ts'
import { DidResolutionError } from './errors.ts'

const LOOPBACK_HOSTS: ReadonlySet<string> = new Set(['localhost', '127.0.0.1'])

/** The URL of `did`'s document; throws DidResolutionError ('invalid-did' or 'insecure-not-allowed'). */
export function didWebDocumentUrl(did: string, allowInsecureWeb: boolean): string {
  let hostPort: string
  try {
    hostPort = didWebHost(did)
  } catch (err) {
    if (!(err instanceof InvalidSyntaxError)) throw err
    throw new DidResolutionError(did, 'invalid-did', err.reason, { cause: err })
  }
  const colon = hostPort.indexOf(':')
  const host = colon === -1 ? hostPort : hostPort.slice(0, colon)
  const hasPort = colon !== -1
  if (LOOPBACK_HOSTS.has(host)) {
    if (!allowInsecureWeb) {
      throw new DidResolutionError(
        did,
        'insecure-not-allowed',
        'loopback did:web is only allowed in development (allowInsecureWeb)',
      )
    }
    return `${hasPort ? 'http' : 'https'}://${hostPort}/.well-known/did.json`
  }
  if (hasPort) {
    throw new DidResolutionError(did, 'invalid-did', 'did:web ports are only allowed on localhost')
  }
  if (!isValidHandle(host) || isDisallowedHandleTld(host)) {
    throw new DidResolutionError(did, 'invalid-did', 'did:web host is not an allowed domain name')
  }
  return `https://${host}/.well-known/did.json`
}
