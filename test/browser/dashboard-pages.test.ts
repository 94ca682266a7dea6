// What each dashboard page shows an operator, in a real headless Chromium: every page is visited
// and none shows a raw value (the words null or undefined, JSON dumps); the overview's chart
// window switch asks /admin/stats for the chosen window; the hosts page says when an offline
// host is retried and why its connection failed (a fake PDS crawled, then closed); the account
// page shows labelled facts for a flowing account, a taken-down one with its drops as a table,
// the result of a refresh and the answer for an unknown DID; the host pulls page shows a pull's
// progress as labelled facts; with archival mode off the archive page says so, offers no
// compaction and shows the repair queue, and a resync of a host that cannot list its repos ends
// failed with its error on the hosts page. No console error, no failed request (the deliberate
// unknown-DID 404 excepted), no request for /favicon.ico. Screenshots go to
// test-artifacts/dashboard/. Archival mode on is dashboard-archive.test.ts.
import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, test } from 'node:test'
import type { Browser, Page } from 'playwright-core'
import { WebSocket } from 'ws'
import { type MockPlc, startMockPlc } from '../../src/identity/testing/mock-plc.ts'
import { testDidDocument } from '../support/did-doc.ts'
import { FakePds } from '../support/fake-pds.ts'
import { generateKeypair } from '../support/keypair.ts'
import { ADMIN_KEY, eventually, startTestRelay, type TestRelay } from '../support/relay-harness.ts'
import { messageFrame, TestRepo } from '../support/test-repo.ts'
import {
  assertNoJsonDump,
  assertNoRawValues,
  launchChromium,
  logIn,
  newPage,
  openPage,
  PageWatch,
  screenshot,
} from './browser-support.ts'

const ALICE = 'did:plc:alicealicealicealicealic'
const BOB = 'did:plc:bobbobbobbobbobbobbobbob'
const UNKNOWN = 'did:plc:unknownunknownunknownunk'
/** A host in the pulled list that cannot be reached: its admission fails. */
const UNREACHABLE = 'localhost:1'

interface HostRecord {
  Host: string
  Status: string
  NextRetryAt: string | null
  LastConnectionError: { message: string; at: string } | null
}

describe('dashboard pages in Chromium', () => {
  let plc: MockPlc
  let relay: TestRelay
  let pds: FakePds
  let gone: FakePds
  let goneHost = ''
  let lister: Server
  let browser: Browser
  let page: Page
  let watch: PageWatch
  let consumer: WebSocket
  const requests: string[] = []
  const repos = new Map<string, TestRepo>()
  let seq = 0

  const hosts = async (): Promise<HostRecord[]> => {
    const res = await fetch(`${relay.url}/admin/pds/list`, {
      headers: { authorization: `Bearer ${ADMIN_KEY}` },
    })
    return (await res.json()) as HostRecord[]
  }
  const commit = async (did: string, rkey: string) => {
    const msg = await repos
      .get(did)!
      .commit([{ action: 'create', path: `app.bsky.feed.post/${rkey}` }], { seq: ++seq })
    pds.emit(seq, messageFrame(msg))
    const id = relay.relay.hosts.byHostname(pds.hostname)!.id
    await eventually(() => relay.relay.hosts.connection(id)?.cursor === seq, 10_000, `seq ${seq}`)
  }
  const shot = (name: string) => screenshot(page, name)
  const field = (scope: string, name: string) => page.locator(`${scope} [data-field="${name}"]`)

  before(async () => {
    plc = await startMockPlc({})
    pds = await FakePds.start()
    gone = await FakePds.start()
    goneHost = gone.hostname // kept: its port is gone once it is closed
    // Offline after 2 failed dials; the first retry then comes 30–60 s later, so the page shows
    // a retry time still in the future.
    relay = await startTestRelay({
      plcUrl: plc.url,
      overrides: {
        hostStatus: {
          offlineAfterFailures: 2,
          offlineRetry: { initialMs: 60_000, maxMs: 120_000 },
        },
        statusTickMs: 50,
      },
    })
    for (const did of [ALICE, BOB]) {
      const repo = new TestRepo(did, generateKeypair('k256'))
      repos.set(did, repo)
      const handle = `${did.slice(8, 13)}.test`
      plc.setDocument(
        did,
        testDidDocument(did, pds.url, {
          handle,
          publicKeyMultibase: repo.keypair.publicKeyMultibase,
        }),
      )
    }
    assert.equal((await relay.crawl(pds.hostname)).status, 200)
    await eventually(() => pds.subscriberCount === 1, 10_000, 'subscribed')
    for (const did of [ALICE, BOB]) await commit(did, '3laaaaaaaaaaa')
    // A host that goes away: the relay keeps failing to dial it and marks it offline.
    assert.equal((await relay.crawl(goneHost)).status, 200)
    await eventually(() => gone.subscriberCount === 1, 10_000, 'subscribed to the doomed host')
    await gone.close()
    await eventually(
      async () => {
        const rec = (await hosts()).find((h) => h.Host === goneHost)
        return rec?.Status === 'offline' && rec.NextRetryAt !== null && !!rec.LastConnectionError
      },
      30_000,
      'the closed host offline',
    )
    // Another relay's listHosts for the pull: one host known here, one that cannot be added.
    lister = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ hosts: [{ hostname: pds.hostname }, { hostname: UNREACHABLE }] }))
    })
    await new Promise<void>((resolve) => lister.listen(0, 'localhost', resolve))
    consumer = new WebSocket(`${relay.wsUrl}/xrpc/com.atproto.sync.subscribeRepos`)
    await new Promise<void>((resolve, reject) => {
      consumer.once('open', () => resolve())
      consumer.once('error', reject)
    })
    browser = await launchChromium()
    page = await newPage(browser)
    watch = new PageWatch(page)
    page.on('request', (req) => requests.push(req.url()))
    await logIn(page, relay.url, ADMIN_KEY)
  })
  after(async () => {
    consumer?.terminate()
    await browser?.close()
    await relay?.close()
    await pds?.close()
    await gone?.close() // already closed once the host went offline; closing again is harmless
    if (lister) await new Promise((resolve) => lister.close(resolve))
    await plc?.close()
  })

  test('overview: the window switch changes the window asked of /admin/stats', async () => {
    const asked = () =>
      requests
        .filter((u) => u.includes('/admin/stats'))
        .map((u) => new URL(u).searchParams.get('window'))
    await openPage(page, 'overview')
    // A fresh session starts on the short window: a new relay has little history.
    await page.waitForSelector('[data-chart="Events per second"][data-window="300"] svg')
    assert.equal(asked().at(-1), '5m')
    for (const [win, secs] of [
      ['24h', 86400],
      ['1h', 3600],
      ['15m', 900],
    ] as const) {
      await page.click(`#chart-window button[data-window="${win}"]`)
      await page.waitForSelector(`[data-chart="Consumers"][data-window="${secs}"] svg`)
      assert.equal(asked().at(-1), win)
      assert.equal(
        await page.getAttribute(`#chart-window button[data-window="${win}"]`, 'aria-pressed'),
        'true',
      )
      await shot(`10-overview-${win}`)
    }
    // The choice is remembered across a reload.
    await page.reload()
    await page.waitForSelector('[data-chart="Consumers"][data-window="900"] svg')
    await page.click('#chart-window button[data-window="5m"]')
    await page.waitForSelector('[data-chart="Consumers"][data-window="300"] svg')
    await assertNoRawValues(page, 'overview')
  })

  test('hosts: an offline host says when it is retried and its last error', async () => {
    await openPage(page, 'hosts')
    const row = `tr[data-host="${goneHost}"]`
    await page.waitForSelector(row)
    assert.equal(await field(row, 'status').textContent(), 'offline')
    assert.match(
      (await field(row, 'next-retry').textContent()) ?? '',
      /^retry in \d+ (s|min) · \d+ failed in a row$/,
    )
    assert.match((await field(row, 'last-error').textContent()) ?? '', /^last error .+ ago: .+/)
    assert.match((await page.getAttribute(`${row} td[title]`, 'title')) ?? '', /./)
    // The healthy host has neither.
    const ok = `tr[data-host="${pds.hostname}"]`
    assert.equal(await field(ok, 'status').textContent(), 'active')
    assert.equal(await field(ok, 'next-retry').count(), 0)
    assert.equal(await field(ok, 'last-error').count(), 0)
    await assertNoRawValues(page, 'hosts')
    await shot('11-hosts-offline')
  })

  test('takedowns: a DID taken down links to its account, shown not flowing with its drops', async () => {
    await openPage(page, 'takedowns')
    await page.fill('input[name=did]', ALICE)
    await page.click('form:has(input[name=did]) button[type=submit]')
    await page.waitForSelector(`#takedowns li[data-did="${ALICE}"]`)
    await commit(ALICE, '3lbbbbbbbbbbb') // dropped: the account is taken down
    await shot('12-takedowns')
    await page.click(`#takedowns li[data-did="${ALICE}"] a`)
    await page.waitForSelector(`[data-account="${ALICE}"]`)
    assert.equal(await page.inputValue('input[name=did]'), ALICE)
    assert.equal(
      await page.locator('.verdict').textContent(),
      'Not flowing: taken down on this relay.',
    )
    assert.equal(await field('#page', 'takendown').textContent(), 'yes')
    assert.equal(await field('#page', 'local-status').textContent(), 'takendown')
    const drop = page.locator('#account-drops tbody tr')
    assert.equal(await drop.count(), 1)
    const cells = await drop.locator('td').allTextContents()
    assert.deepEqual([cells[0], cells[1], cells[3]], ['account-takendown', '1', pds.hostname])
    assert.match(cells[2] ?? '', /ago\)$/)
    await assertNoRawValues(page, 'account (taken down)')
    await assertNoJsonDump(page, 'account (taken down)')
    await shot('13-account-takendown')
  })

  test('account: a flowing account as labelled facts; a refresh asks its PDS', async () => {
    await openPage(page, 'account')
    await page.fill('input[name=did]', BOB)
    await page.click('form:has(input[name=did]) button[type=submit]')
    await page.waitForSelector(`[data-account="${BOB}"]`)
    const bob = repos.get(BOB)!
    assert.match((await page.locator('.verdict').textContent()) ?? '', /^Flowing/)
    assert.equal(await field('#page', 'host').textContent(), pds.hostname)
    assert.equal(await field('#page', 'rev').textContent(), bob.rev)
    assert.equal(await field('#page', 'commit').textContent(), bob.commitCid)
    assert.equal(await field('#page', 'throttled').textContent(), 'no')
    assert.equal(await page.locator('#account-drops td').textContent(), 'No recent drops.')
    await assertNoRawValues(page, 'account')
    await assertNoJsonDump(page, 'account')
    await shot('14-account')
    await page.click('button:has-text("Refresh from its PDS")')
    await page.waitForSelector('#account-refresh')
    assert.equal(await field('#account-refresh', 'pds-status').textContent(), 'active')
    assert.equal(await field('#account-refresh', 'pds').textContent(), pds.url)
    assert.equal(await field('#account-refresh', 'handle').textContent(), 'bobbo.test')
    await assertNoRawValues(page, 'account refreshed')
    await assertNoJsonDump(page, 'account refreshed')
    await shot('15-account-refreshed')
  })

  test('account: an unknown DID is answered, not reported as a failure', async () => {
    watch.allow(UNKNOWN.slice(8)) // the relay's 404 for it, on purpose
    await page.fill('input[name=did]', UNKNOWN)
    await page.click('form:has(input[name=did]) button[type=submit]')
    await page.waitForSelector('#account-missing')
    const text = (await page.locator('#account-missing').textContent()) ?? ''
    assert.match(text, /Not on this relay/)
    assert.match(text, /no event of it has been accepted/)
    assert.equal(await page.locator('#flash.bad').count(), 0)
    await assertNoRawValues(page, 'account (unknown)')
    await shot('16-account-unknown')
    watch.assertClean('account lookups')
  })

  test('pulls: the progress of a pull as labelled facts', async () => {
    await openPage(page, 'pulls')
    const progress = '#pull-progress'
    await page.waitForSelector(`${progress} [data-field="status"]`)
    assert.match((await field(progress, 'status').textContent()) ?? '', /No pull has run/)
    await assertNoRawValues(page, 'pulls (idle)')
    const from = `http://localhost:${(lister.address() as AddressInfo).port}`
    await page.fill('input[name=from]', from)
    await page.click('form:has(input[name=from]) button[type=submit]')
    await field(progress, 'status')
      .filter({ hasText: /^Finished$/ })
      .waitFor()
    const facts = async (name: string) => field(progress, name).textContent()
    assert.equal(await facts('from'), from)
    assert.deepEqual(
      [await facts('pages'), await facts('listed'), await facts('known'), await facts('failed')],
      ['1', '2', '1', '1'],
    )
    assert.match((await facts('last-error')) ?? '', new RegExp(`^${UNREACHABLE}: `))
    assert.match((await facts('finished')) ?? '', / after /)
    await assertNoRawValues(page, 'pulls')
    await assertNoJsonDump(page, 'pulls')
    await shot('17-pulls')
  })

  test('archive: with archival mode off the page says so and offers no compaction', async () => {
    await openPage(page, 'archive')
    await field('#archive-mode', 'mode').waitFor()
    assert.equal(await field('#archive-mode', 'mode').textContent(), 'off')
    assert.match(
      (await page.locator('#archive-mode').textContent()) ?? '',
      /start it with --archive/,
    )
    assert.equal(await field('#archive-mode', 'repos').count(), 0)
    assert.equal(await page.locator('#compaction').isHidden(), true)
    assert.equal(await page.locator('button[data-action="compact"]').count(), 0)
    // The repair queue is there in both modes, as the relay counts it.
    const res = await fetch(`${relay.url}/admin/archive`, {
      headers: { authorization: `Bearer ${ADMIN_KEY}` },
    })
    const s = (await res.json()) as {
      archive: { enabled: boolean }
      repairs: Record<string, number>
    }
    assert.equal(s.archive.enabled, false)
    for (const k of ['queued', 'running', 'repaired', 'failed', 'overflow'])
      assert.equal(await field('#repairs', k).textContent(), String(s.repairs[k]), k)
    await assertNoRawValues(page, 'archive (off)')
    await assertNoJsonDump(page, 'archive (off)')
    await shot('19-archive-off')
  })

  test('hosts: a resync of a host that cannot list its repos ends failed, with its error', async () => {
    await openPage(page, 'hosts')
    const row = `tr[data-host="${pds.hostname}"]`
    await page.waitForSelector(row)
    page.once('dialog', (d) => void d.accept())
    await page.click(`${row} button[data-action="resync"]`)
    // The fake PDS has no listRepos: the relay tries three times, then the resync fails.
    await field(row, 'resync-status')
      .filter({ hasText: /^failed$/ })
      .waitFor({ timeout: 30_000 })
    const res = await fetch(`${relay.url}/admin/pds/resync?host=${pds.hostname}`, {
      headers: { authorization: `Bearer ${ADMIN_KEY}` },
    })
    const p = ((await res.json()) as { resync: { status: string; lastError: string } }).resync
    assert.equal(p.status, 'failed')
    assert.equal(await field(row, 'resync-error').textContent(), p.lastError)
    assert.match(p.lastError, /listRepos/)
    assert.equal(await field(row, 'resync-counts').textContent(), '0 of 0 repos checked')
    assert.match((await field(row, 'resync-when').textContent()) ?? '', /^failed .+ ago$/)
    assert.equal(await page.locator(`${row} button[data-action="resync"]`).isEnabled(), true)
    await assertNoRawValues(page, 'hosts (resync failed)')
    await shot('19-hosts-resync-failed')
  })

  test('every page: no raw values, no JSON dumps', async () => {
    const ready: Record<string, string> = {
      overview: '[data-chart] svg',
      hosts: 'tr[data-host]',
      consumers: 'tr[data-consumer]',
      bans: '#bans li',
      takedowns: '#takedowns li',
      settings: '#trusted li',
      account: 'input[name=did]',
      pulls: '#pull-progress [data-field="status"]',
      archive: '#archive-mode [data-field="mode"]',
    }
    for (const [name, selector] of Object.entries(ready)) {
      await openPage(page, name)
      await page.waitForSelector(`#page ${selector}`)
      await assertNoRawValues(page, name)
      await assertNoJsonDump(page, name)
      await shot(`18-page-${name}`)
    }
  })

  test('no console errors, no failed requests, no request for /favicon.ico', () => {
    watch.assertClean('the whole session')
    assert.deepEqual(
      requests.filter((u) => new URL(u).pathname === '/favicon.ico'),
      [],
    )
    assert.ok(requests.some((u) => new URL(u).pathname === '/dash/favicon.svg'))
  })
})
