// Query-parameter parsing for XRPC routes: every bad parameter becomes a 400 InvalidRequest that
// names the parameter and says why.
import { isValidDid } from '../protocol/syntax/index.ts'
import { invalidRequest } from './errors.ts'

export function requiredString(q: URLSearchParams, name: string, maxLength = 2048): string {
  const v = q.get(name)
  if (v === null || v === '') throw invalidRequest(`parameter "${name}" is required`)
  if (v.length > maxLength)
    throw invalidRequest(`parameter "${name}" is longer than ${maxLength} characters`)
  return v
}

export function optionalString(
  q: URLSearchParams,
  name: string,
  maxLength = 2048,
): string | undefined {
  const v = q.get(name)
  if (v === null || v === '') return undefined
  if (v.length > maxLength)
    throw invalidRequest(`parameter "${name}" is longer than ${maxLength} characters`)
  return v
}

export function requiredDid(q: URLSearchParams, name = 'did'): string {
  const v = requiredString(q, name, 2048)
  if (!isValidDid(v)) throw invalidRequest(`parameter "${name}" is not a valid DID`)
  return v
}

export function limitParam(
  q: URLSearchParams,
  name: string,
  min: number,
  max: number,
  fallback: number,
): number {
  const raw = q.get(name)
  if (raw === null || raw === '') return fallback
  if (!/^\d{1,9}$/.test(raw)) throw invalidRequest(`parameter "${name}" must be an integer`)
  const n = Number(raw)
  if (n < min || n > max)
    throw invalidRequest(`parameter "${name}" must be between ${min} and ${max}`)
  return n
}
