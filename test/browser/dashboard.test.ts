// The admin dashboard (/dash/) end to end in a real headless Chromium (Debian's `chromium`, driven
// by playwright-core): a wrong key is refused, log in, the overview draws its charts from
// /admin/stats, a fake PDS is crawled from the hosts page and shows up, its limits are changed and
// it is blocked, a firehose consumer appears on the consumers page, a domain is banned. Each
// effect is also checked through the admin API. Screenshots go to test-artifacts/dashboard/.
// No console error and no failed request along the way (the wrong key's 401 excepted). Also: the
// static file server's answers (redirect, types, favicon, 404s, no traversal). What each page
// shows (no raw values, the account, pulls, chart window and offline host views) is in
// dashboard-pages.test.ts.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { Browser, Page } from 'playwright-core'
import { WebSocket } from 'ws'
import { type MockPlc, startMockPlc } from '../../src/identity/testing/mock-plc.ts'
import { FakePds } from '../support/fake-pds.ts'
import { ADMIN_KEY, eventually, startTestRelay, type TestRelay } from '../support/relay-harness.ts'
import {
  launchChromium,
  newPage,
  openPage,
  PageWatch,
  screenshot,
  WAIT,
} from './browser-support.ts'

interface HostRecord {
  Host: string
  Blocked: boolean
  RateLimit: number
  RepoLimit: number
}

describe('admin dashboard in Chromium', () => {
  let plc: MockPlc
  let relay: TestRelay
  let pds: FakePds
  let browser: Browser
  let page: Page
  let watch: PageWatch
  const consumers: WebSocket[] = []

  const adminGet = async (path: string): Promise<unknown> => {
    const res = await fetch(`${relay.url}${path}`, {
      headers: { authorization: `Bearer ${ADMIN_KEY}` },
    })
    assert.equal(res.status, 200, path)
    return res.json()
  }
  const hostRecord = async (): Promise<HostRecord | undefined> =>
    ((await adminGet('/admin/pds/list')) as HostRecord[]).find((h) => h.Host === pds.hostname)
  const shot = (name: string) => screenshot(page, name)

  before(async () => {
    plc = await startMockPlc({})
    relay = await startTestRelay({ plcUrl: plc.url })
    pds = await FakePds.start()
    browser = await launchChromium()
    page = await newPage(browser)
    watch = new PageWatch(page)
  })
  after(async () => {
    for (const ws of consumers) ws.terminate()
    await browser?.close()
    await relay?.close()
    await pds?.close()
    await plc?.close()
  })

  test('the static files: redirect, types, 404 for unknown names and traversal', async () => {
    const redirect = await fetch(`${relay.url}/dash`, { redirect: 'manual' })
    assert.equal(redirect.status, 301)
    assert.equal(redirect.headers.get('location'), '/dash/')
    const index = await fetch(`${relay.url}/dash/`)
    assert.equal(index.status, 200)
    assert.match(index.headers.get('content-type') ?? '', /^text\/html/)
    assert.match(await index.text(), /Relay admin/)
    // The favicon is ours (no request for /favicon.ico, which would be a 404).
    assert.match(
      await (await fetch(`${relay.url}/dash/`)).text(),
      /rel="icon" href="\/dash\/favicon.svg"/,
    )
    const icon = await fetch(`${relay.url}/dash/favicon.svg`)
    assert.equal(icon.status, 200)
    assert.equal(icon.headers.get('content-type'), 'image/svg+xml')
    assert.match(await icon.text(), /^<svg /)
    const js = await fetch(`${relay.url}/dash/app.js`)
    assert.match(js.headers.get('content-type') ?? '', /^text\/javascript/)
    await js.arrayBuffer()
    for (const bad of [
      '/dash/nope.js',
      '/dash/%2e%2e/serve.ts',
      '/dash/..%2fserve.ts',
      '/dash/sub/x.js',
    ]) {
      const res = await fetch(`${relay.url}${bad}`)
      assert.equal(res.status, 404, bad)
      await res.arrayBuffer()
    }
  })

  test('a wrong key is refused with an error; the right one logs in to the overview', async () => {
    watch.allow('/admin/subs/getEnabled') // the wrong key's 401, on purpose
    await page.goto(`${relay.url}/dash/`)
    await page.fill('#login-key', 'not-the-key')
    await page.click('#login-form button[type=submit]')
    await page.waitForSelector('#login-error:has-text("Wrong admin key")')
    await shot('01-wrong-key')
    await page.fill('#login-key', ADMIN_KEY)
    await page.click('#login-form button[type=submit]')
    await page.waitForSelector('#shell:not([hidden])')
    await page.waitForSelector('[data-chart="Events per second"] svg')
    await page.waitForSelector('[data-chart="Drops per second by reason"] svg')
    await page.waitForSelector('[data-chart="Threads busy (% of the time, per thread)"] svg')
    await page.waitForSelector('[data-chart="Main thread CPU per event (µs)"] svg')
    await shot('02-overview')
    watch.assertClean('login')
  })

  test('request a crawl of a fake PDS and see the host', async () => {
    await page.click('nav a[data-page=hosts]')
    await page.fill('input[name=hostname]', pds.hostname)
    await page.click('form:has(input[name=hostname]) button[type=submit]')
    const row = page.locator(`tr[data-host="${pds.hostname}"]`)
    await row.waitFor()
    await eventually(() => pds.subscriberCount > 0, WAIT, 'the relay subscribing to the fake PDS')
    await shot('03-host-crawled')
  })

  test('change the host limits', async () => {
    await page.locator(`tr[data-host="${pds.hostname}"] button:has-text("Limits")`).click()
    const form = page.locator(`tr[data-limits-for="${pds.hostname}"] form`)
    await form.locator('input[name=per_second]').fill('7')
    await form.locator('input[name=repo_limit]').fill('123')
    await shot('04-limits-form')
    await form.locator('button[type=submit]').click()
    await page.waitForSelector(
      `tr[data-host="${pds.hostname}"] [data-field="rate-limit"]:text-is("7")`,
    )
    const rec = await hostRecord()
    assert.equal(rec?.RateLimit, 7)
    assert.equal(rec?.RepoLimit, 123)
    await shot('05-limits-changed')
  })

  test('block the host', async () => {
    await page.locator(`tr[data-host="${pds.hostname}"] button:has-text("Block")`).click()
    await page.waitForSelector(
      `tr[data-host="${pds.hostname}"] [data-field="status"]:text-is("blocked")`,
    )
    assert.equal((await hostRecord())?.Blocked, true)
    await page.waitForSelector(`tr[data-host="${pds.hostname}"] button:has-text("Unblock")`)
    await shot('06-host-blocked')
  })

  test('a firehose consumer appears on the consumers page', async () => {
    const ws = new WebSocket(`${relay.wsUrl}/xrpc/com.atproto.sync.subscribeRepos`, {
      headers: { 'user-agent': 'dashboard-test-consumer' },
    })
    consumers.push(ws)
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve())
      ws.once('error', reject)
    })
    await page.click('nav a[data-page=consumers]')
    await page.waitForSelector('#consumers td:has-text("dashboard-test-consumer")')
    await shot('07-consumer')
  })

  test('ban a domain', async () => {
    await page.click('nav a[data-page=bans]')
    await page.fill('input[name=domain]', 'spam.example')
    await page.click('form:has(input[name=domain]) button[type=submit]')
    await page.waitForSelector('#bans li[data-domain="spam.example"]')
    const bans = (await adminGet('/admin/subs/listDomainBans')) as { banned_domains: string[] }
    assert.deepEqual(bans.banned_domains, ['spam.example'])
    await shot('08-domain-banned')
  })

  test('the other pages load without errors', async () => {
    for (const name of ['takedowns', 'settings', 'account', 'pulls', 'overview']) {
      await openPage(page, name)
      await page.waitForSelector('#page h1')
      const flash = await page.locator('#flash.bad').count()
      assert.equal(flash, 0, `${name}: ${await page.locator('#flash').textContent()}`)
      await shot(`09-${name}`)
    }
  })

  test('no console errors and no failed requests on the way', () => {
    watch.assertClean('the whole session')
  })
})
