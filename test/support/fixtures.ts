// Paths to the shared fixtures (`../shared/fixtures` beside the repo, in CI too) and loaders.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

export const FIXTURES = join(import.meta.dirname, '../../../shared/fixtures')

export function fixturePath(...parts: string[]): string {
  return join(FIXTURES, ...parts)
}

export function readFixtureJson<T = unknown>(...parts: string[]): T {
  return JSON.parse(readFileSync(fixturePath(...parts), 'utf8')) as T
}
