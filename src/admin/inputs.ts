// Input checks shared by admin routes: query parameters and JSON body fields, each bad one a 400
// naming the field and why.

import { invalidRequest } from '../api/errors.ts'
import type { ApiRequest } from '../api/server.ts'
import { isValidDid } from '../protocol/syntax/index.ts'

export function bodyObject(req: ApiRequest): Record<string, unknown> {
  const b = req.body
  if (typeof b !== 'object' || b === null || Array.isArray(b))
    throw invalidRequest('body must be a JSON object')
  return b as Record<string, unknown>
}

export function queryString(req: ApiRequest, name: string, maxLength = 512): string {
  const v = req.query.get(name)
  if (v === null || v === '') throw invalidRequest(`query parameter "${name}" is required`)
  if (v.length > maxLength) throw invalidRequest(`query parameter "${name}" is too long`)
  return v
}

export function queryBool(req: ApiRequest, name: string, required: boolean): boolean | undefined {
  const v = req.query.get(name)
  if (v === null || v === '') {
    if (required) throw invalidRequest(`query parameter "${name}" is required (true or false)`)
    return undefined
  }
  if (v !== 'true' && v !== 'false')
    throw invalidRequest(`query parameter "${name}" must be true or false`)
  return v === 'true'
}

export function queryCount(req: ApiRequest, name: string, max: number): number {
  const v = queryString(req, name, 20)
  if (!/^\d+$/.test(v) || Number(v) > max)
    throw invalidRequest(`query parameter "${name}" must be an integer from 0 to ${max}`)
  return Number(v)
}

/** A DID from the JSON body (`did`) or, where allowed, the query. */
export function didFrom(req: ApiRequest, opts: { query?: boolean; body?: boolean }): string {
  let did: unknown
  if (opts.body && req.body !== undefined) did = bodyObject(req).did
  if (did === undefined && opts.query) did = req.query.get('did') ?? undefined
  if (typeof did !== 'string' || did === '') throw invalidRequest('"did" is required')
  if (did.length > 2048 || !isValidDid(did)) throw invalidRequest('"did" is not a valid DID')
  return did
}

/** An optional non-negative integer field of a JSON body. */
export function optionalCount(
  body: Record<string, unknown>,
  name: string,
  max: number,
): number | undefined {
  const v = body[name]
  if (v === undefined || v === null) return undefined
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || v > max) {
    throw invalidRequest(`"${name}" must be an integer from 0 to ${max}`)
  }
  return v
}

/** A domain for bans and trusted domains: lowercase labels, optionally `*.` first. */
export function domainValue(raw: unknown, name: string): string {
  if (typeof raw !== 'string' || raw === '') throw invalidRequest(`"${name}" is required`)
  const d = raw.trim().toLowerCase().replace(/\.$/, '')
  const bare = d.startsWith('*.') ? d.slice(2) : d
  if (
    bare.length > 253 ||
    !/^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(bare)
  ) {
    throw invalidRequest(`"${name}" is not a domain name`)
  }
  return d
}
