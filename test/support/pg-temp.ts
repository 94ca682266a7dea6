// Test support: a PostgreSQL database of the test's own, created on the server
// RELAY_TEST_POSTGRES_URL names and dropped when the test ends, so tests that run at the same
// time never share tables. Undefined when no server is given (those tests are skipped).
import { randomBytes } from 'node:crypto'
import pg from 'pg'

export const PG_URL = process.env.RELAY_TEST_POSTGRES_URL

export interface TempPostgres extends AsyncDisposable {
  readonly url: string
}

export async function tempPostgres(): Promise<TempPostgres> {
  if (!PG_URL) throw new Error('RELAY_TEST_POSTGRES_URL is not set')
  const name = `relay_t_${randomBytes(6).toString('hex')}`
  const admin = new pg.Client({ connectionString: PG_URL })
  await admin.connect()
  try {
    await admin.query(`create database ${name}`)
  } finally {
    await admin.end()
  }
  const url = new URL(PG_URL)
  url.pathname = `/${name}`
  return {
    url: url.toString(),
    async [Symbol.asyncDispose]() {
      const c = new pg.Client({ connectionString: PG_URL })
      await c.connect()
      try {
        await c.query(`drop database if exists ${name} with (force)`)
      } finally {
        await c.end()
      }
    },
  }
}
