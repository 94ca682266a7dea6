// Calls to a test relay's admin API with the test admin key, and assertions on XRPC error bodies,
// shared by the admin route tests.
import assert from 'node:assert/strict'
import { ADMIN_KEY } from './relay-harness.ts'

export interface HostRecord {
  ID: number
  Host: string
  Cursor: number
  Blocked: boolean
  Trusted: boolean
  Status: string
  RateLimit: number
  HasActiveConnection: boolean
  [k: string]: unknown
}

export interface Answer {
  status: number
  json: unknown
}

export async function call(
  base: string,
  method: 'GET' | 'POST',
  path: string,
  opts: { body?: unknown; raw?: string } = {},
): Promise<Answer> {
  const headers: Record<string, string> = { authorization: `Bearer ${ADMIN_KEY}` }
  let body: string | undefined
  if (opts.raw !== undefined || opts.body !== undefined) {
    headers['content-type'] = 'application/json'
    body = opts.raw ?? JSON.stringify(opts.body)
  }
  const res = await fetch(`${base}${path}`, { method, headers, body })
  const text = await res.text()
  return { status: res.status, json: text === '' ? null : (JSON.parse(text) as unknown) }
}

/** Asserts a 4xx answer with an XRPC error body naming `error`. */
export function assertError(a: Answer, status: number, error: string, what: string): void {
  const body = a.json as { error?: unknown; message?: unknown }
  assert.equal(a.status, status, `${what}: ${JSON.stringify(a.json)}`)
  assert.equal(body.error, error, what)
  assert.ok(typeof body.message === 'string' && body.message.length > 0, what)
}

export const OK = { success: 'true' }

/** A mutation's answer: `success` plus, for some routes, what was done. */
export type OkJson = { success: string } & Record<string, unknown>
