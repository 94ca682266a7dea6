// Paths to the test fixtures kept in this repository (`test/fixtures/`, see its README for where
// each set comes from and its licence) and loaders.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

export const FIXTURES = join(import.meta.dirname, '../fixtures')

export function fixturePath(...parts: string[]): string {
  return join(FIXTURES, ...parts)
}

export function readFixtureJson<T = unknown>(...parts: string[]): T {
  return JSON.parse(readFileSync(fixturePath(...parts), 'utf8')) as T
}
