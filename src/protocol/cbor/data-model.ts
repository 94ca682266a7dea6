// Conversion between the atproto JSON representation of the data model and the in-memory values
// @atcute/cbor reads and writes (CIDs as CidLinkWrapper, bytes as BytesWrapper), plus the strict
// decode entry point (checkDagCbor first, then @atcute/cbor). `fromJson` enforces the data-model
// rules visible without a Lexicon: integers only (safe-integer range), well-formed strings,
// `$link` objects exactly `{ $link: <CID> }`, `$bytes` exactly `{ $bytes: <base64> }`, `$type`
// a non-empty string, and `$type: "blob"` objects with a link `ref`, a non-empty `mimeType` and
// an integer `size` >= 0. It deliberately does not validate against Lexicon schemas, check the
// blob `ref` codec, accept legacy blobs specially, or allow CIDs outside the blessed form
// (CIDv1, dag-cbor or raw, sha-256) that @atcute/cid can parse.

import { BytesWrapper, CidLinkWrapper, decode } from '@atcute/cbor'
import { fromString as cidFromString } from '@atcute/cid'
import { fromBase64, fromBase64Pad, toBase64 } from '@atcute/multibase'
import { DagCborError } from './dag-cbor-error.ts'
import { DataModelError } from './data-model-error.ts'
import { checkDagCbor, MAX_DAG_CBOR_DEPTH } from './strict.ts'

export { encode } from '@atcute/cbor'

/** An in-memory data-model value, as @atcute/cbor decodes it and `fromJson` builds it. */
export type DataModelValue =
  | null
  | boolean
  | number
  | string
  | CidLinkWrapper
  | BytesWrapper
  | DataModelValue[]
  | DataModelObject

export interface DataModelObject {
  [key: string]: DataModelValue
}

/** A JSON value as atproto writes the data model (links and bytes as `$link` / `$bytes`). */
export type JsonValue =
  | null
  | boolean
  | number
  | string
  | JsonValue[]
  | { [key: string]: JsonValue }

/** Checks that `bytes` is exactly one strict DAG-CBOR item, then decodes it with @atcute/cbor. */
export function decodeStrict(bytes: Uint8Array): unknown {
  checkDagCbor(bytes)
  try {
    return decode(bytes)
  } catch (err) {
    // valid DAG-CBOR the decoder cannot hold: integers beyond 2^53, CIDs outside the blessed form
    const detail = err instanceof Error ? err.message : String(err)
    throw new DagCborError('unsupported', 0, detail, { cause: err })
  }
}

/** Converts atproto JSON (a top-level object) into values @atcute/cbor `encode` writes. */
export function fromJson(json: unknown): DataModelObject {
  if (!isPlainObject(json)) {
    throw new DataModelError('not-object', '$', `top level is ${describe(json)}, not an object`)
  }
  const value = fromJsonValue(json)
  if (!isPlainObject(value)) {
    throw new DataModelError('not-object', '$', 'top level is a $link or $bytes object')
  }
  return value
}

/** Like `fromJson`, for any data-model value (no top-level object required). */
export function fromJsonValue(json: unknown, path = '$', depth = 1): DataModelValue {
  switch (typeof json) {
    case 'string':
      return checkString(json, path)
    case 'boolean':
      return json
    case 'number':
      return checkInteger(json, path)
    case 'object': {
      if (json === null) return null
      if (Array.isArray(json)) {
        checkDepth(depth, path)
        return json.map((item, i) => fromJsonValue(item, `${path}[${i}]`, depth + 1))
      }
      if (isPlainObject(json)) return objectFromJson(json, path, depth)
      break
    }
  }
  throw new DataModelError('unsupported-value', path, `${describe(json)} is not JSON`)
}

function objectFromJson(obj: Record<string, unknown>, path: string, depth: number): DataModelValue {
  const keys = Object.keys(obj)
  if (Object.hasOwn(obj, '$link')) return linkFromJson(obj, keys.length, path)
  if (Object.hasOwn(obj, '$bytes')) return bytesFromJson(obj, keys.length, path)
  checkDepth(depth, path)
  const out: DataModelObject = {}
  for (const key of keys) {
    checkString(key, `${path} (key)`)
    setOwn(out, key, fromJsonValue(obj[key], `${path}.${key}`, depth + 1))
  }
  if (Object.hasOwn(obj, '$type')) checkTyped(out, path)
  return out
}

function linkFromJson(obj: Record<string, unknown>, keyCount: number, path: string) {
  if (keyCount !== 1) throw new DataModelError('bad-link', path, '$link object has other fields')
  const link = obj.$link
  if (typeof link !== 'string') {
    throw new DataModelError('bad-link', path, `$link is ${describe(link)}, not a string`)
  }
  try {
    return new CidLinkWrapper(cidFromString(link).bytes)
  } catch (err) {
    throw new DataModelError('bad-link', path, `$link is not a valid CID`, { cause: err })
  }
}

function bytesFromJson(obj: Record<string, unknown>, keyCount: number, path: string) {
  if (keyCount !== 1) throw new DataModelError('bad-bytes', path, '$bytes object has other fields')
  const b64 = obj.$bytes
  if (typeof b64 !== 'string') {
    throw new DataModelError('bad-bytes', path, `$bytes is ${describe(b64)}, not a string`)
  }
  try {
    // RFC 4648 section 4 base64 (not URL-safe); `=` padding is optional
    return new BytesWrapper(b64.endsWith('=') ? fromBase64Pad(b64) : fromBase64(b64))
  } catch (err) {
    throw new DataModelError('bad-bytes', path, '$bytes is not valid base64', { cause: err })
  }
}

/** `$type` must be a non-empty string; `$type: "blob"` must have the blob fields. */
function checkTyped(obj: DataModelObject, path: string): void {
  const type = obj.$type
  if (typeof type !== 'string' || type.length === 0) {
    throw new DataModelError('bad-type', `${path}.$type`, `$type is ${describe(type)}`)
  }
  if (type !== 'blob') return
  if (!(obj.ref instanceof CidLinkWrapper)) {
    throw new DataModelError('bad-blob', `${path}.ref`, 'blob ref is not a $link')
  }
  const mimeType = obj.mimeType
  if (typeof mimeType !== 'string' || mimeType.length === 0) {
    throw new DataModelError('bad-blob', `${path}.mimeType`, 'blob mimeType is not a string')
  }
  const size = obj.size
  if (typeof size !== 'number' || size < 0) {
    throw new DataModelError('bad-blob', `${path}.size`, `blob size is ${describe(size)}`)
  }
}

/** Converts an in-memory data-model value (as decoded) into its atproto JSON form. */
export function toJson(value: unknown, path = '$', depth = 1): JsonValue {
  switch (typeof value) {
    case 'string':
      return checkString(value, path)
    case 'boolean':
      return value
    case 'number':
      return checkInteger(value, path)
    case 'object': {
      if (value === null) return null
      if (value instanceof CidLinkWrapper) return { $link: value.$link }
      if (value instanceof BytesWrapper) return { $bytes: toBase64(value.buf) }
      if (Array.isArray(value)) {
        checkDepth(depth, path)
        return value.map((item, i) => toJson(item, `${path}[${i}]`, depth + 1))
      }
      if (isPlainObject(value)) {
        checkDepth(depth, path)
        const out: { [key: string]: JsonValue } = {}
        for (const key of Object.keys(value)) {
          setOwn(out, key, toJson(value[key], `${path}.${key}`, depth + 1))
        }
        return out
      }
      break
    }
  }
  throw new DataModelError(
    'unsupported-value',
    path,
    `${describe(value)} is not a data-model value`,
  )
}

function checkString(s: string, path: string): string {
  if (!s.isWellFormed()) throw new DataModelError('bad-string', path, 'lone UTF-16 surrogate')
  return s
}

function checkInteger(n: number, path: string): number {
  if (!Number.isInteger(n)) throw new DataModelError('float', path, `${n} is not an integer`)
  if (!Number.isSafeInteger(n)) {
    throw new DataModelError('int-out-of-range', path, `${n} is beyond 2^53`)
  }
  return n === 0 ? 0 : n // -0 encodes as 0
}

function checkDepth(depth: number, path: string): void {
  if (depth > MAX_DAG_CBOR_DEPTH) {
    throw new DataModelError('too-deep', path, `more than ${MAX_DAG_CBOR_DEPTH} levels`)
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false
  const proto: unknown = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

/** Assigns even the key `__proto__` as an own enumerable property. */
function setOwn<T>(obj: { [key: string]: T }, key: string, value: T): void {
  if (key === '__proto__') {
    Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true })
  } else {
    obj[key] = value
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'string') return `the string ${JSON.stringify(value.slice(0, 40))}`
  if (typeof value === 'number') return `the number ${value}`
  return `a ${typeof value}`
}
