// The whole relay on PostgreSQL (the production database; SQLite is the default elsewhere):
// a captured scenario through a real relay whose state lives in PostgreSQL, then a restart on the
// same database and event log (account heads, cursors and identities kept). Runs when RELAY_TEST_POSTGRES_URL names a server where the test
// may create databases (CI starts one); skipped otherwise.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import pg from 'pg'
import { scenarioIdentityToDidDocument, startMockPlc } from '../../src/identity/testing/mock-plc.ts'
import { FakePds } from '../support/fake-pds.ts'
import { Consumer, eventually, startTestRelay } from '../support/relay-harness.ts'
import { loadScenario, scenarioFrame } from '../support/scenarios.ts'

const base = process.env.RELAY_TEST_POSTGRES_URL
const ANCIENT = 'did:plc:ancientancientancientan'

test('a scenario on PostgreSQL, and state kept across a restart', {
  skip: base ? false : 'RELAY_TEST_POSTGRES_URL is not set',
  timeout: 60_000,
}, async () => {
  const name = `relay_e2e_${process.pid}_${Date.now()}`
  const admin = new pg.Client({ connectionString: base })
  await admin.connect()
  await admin.query(`create database ${name}`)
  const url = new URL(base!)
  url.pathname = `/${name}`
  const scenario = loadScenario('post_lifecycle.json')
  const plc = await startMockPlc({})
  const pds = await FakePds.start()
  for (const a of scenario.accounts) {
    const identity = structuredClone(a.identity)
    identity.services.atproto_pds.url = pds.url
    plc.setDocument(identity.did, scenarioIdentityToDidDocument(identity))
  }
  const flags = ['--db-url', url.toString(), '--sync-validation', 'strict']
  let relay = await startTestRelay({ plcUrl: plc.url, flags })
  const dir = relay.dir
  try {
    assert.equal(relay.relay.db.dialect, 'postgres')
    assert.equal((await relay.crawl(pds.hostname)).status, 200)
    await eventually(() => pds.subscriberCount === 1)
    const hostId = relay.relay.hosts.byHostname(pds.hostname)!.id
    for (const m of scenario.messages) {
      const seq = m.frame.body.seq as number
      pds.emit(seq, scenarioFrame(m))
      await eventually(() => relay.relay.hosts.connection(hostId)?.cursor === seq)
    }
    const consumer = new Consumer(relay.wsUrl, 0)
    await consumer.until(() => consumer.messages().length >= scenario.messages.length)
    consumer.close()
    assert.equal(relay.relay.drops.total(), 0)
    const did = scenario.accounts[0]!.identity.did
    const last = scenario.messages.at(-1)!.frame.body as { commit: { $link: string }; rev: string }
    // A row too old to be used, written after this relay's first prune: the next start's first
    // checkpoint deletes it.
    const kept = await relay.relay.db.identities.get(did)
    await relay.relay.db.identities.upsertMany([{ ...kept!, did: ANCIENT, resolved_at: 1 }])
    await relay.close({ keepDir: true })

    relay = await startTestRelay({ plcUrl: plc.url, flags, dir })
    const res = await fetch(`${relay.url}/xrpc/com.atproto.sync.getLatestCommit?did=${did}`)
    assert.deepEqual(await res.json(), { cid: last.commit.$link, rev: last.rev })
    const hosts = (await (await fetch(`${relay.url}/xrpc/com.atproto.sync.listHosts`)).json()) as {
      hosts: { hostname: string; seq: number }[]
    }
    assert.deepEqual(
      hosts.hosts.map((h) => [h.hostname, h.seq]),
      [[pds.hostname, scenario.messages.at(-1)!.frame.body.seq]],
    )
    // The account's identity as resolved is in PostgreSQL for the next start to read; the row too
    // old to be used is gone.
    const stored = await relay.relay.db.identities.get(did)
    assert.equal(stored?.pds, pds.url)
    assert.equal(typeof stored?.resolved_at, 'number')
    await eventually(async () => (await relay.relay.db.identities.get(ANCIENT)) === undefined)
    assert.notEqual(await relay.relay.db.identities.get(did), undefined)
  } finally {
    await relay.close()
    await pds.close()
    await plc.close()
    await admin.query(`drop database if exists ${name} with (force)`)
    await admin.end()
  }
})
