// Test helper: runs `adminCommand` against a fake admin server with captured stdout/stderr,
// an instant `sleep` (polls are driven by the fake's scripted answers, never by timers) and a
// fixed clock. Deliberately not here: the fake server (fake-admin-server.ts).
import { adminCommand } from '../admin-cli.ts'
import type { FakeAdminServer } from './fake-admin-server.ts'

export interface AdminRun {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
  /** How many times the command waited between polls. */
  readonly sleeps: number
}

export const FIXED_NOW = Date.parse('2026-01-01T01:00:00Z')

export async function runAdmin(
  fake: FakeAdminServer | { url: string },
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>> = { RELAY_ADMIN_KEY: 'secret-key' },
): Promise<AdminRun> {
  let stdout = ''
  let stderr = ''
  let sleeps = 0
  const code = await adminCommand(['--relay', fake.url, ...argv], env, {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    fetch: globalThis.fetch,
    sleep: async () => {
      sleeps++
    },
    now: () => FIXED_NOW,
  })
  return { code, stdout, stderr, sleeps }
}
