// Shared by the dashboard's browser tests: Debian's Chromium launched headless through
// playwright-core, a watch on a page that records every console error, failed request and HTTP
// error answer (so a test can assert there were none, apart from the ones it provoked on
// purpose), and checks on what the operator sees.
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { type Browser, chromium, type Page } from 'playwright-core'

export const CHROMIUM = '/usr/bin/chromium'
export const ARTIFACTS = join(import.meta.dirname, '..', '..', 'test-artifacts', 'dashboard')
export const WAIT = 15_000

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM))
    throw new Error(
      `${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium; .ci/run does this)`,
    )
  await mkdir(ARTIFACTS, { recursive: true })
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
}

export async function newPage(browser: Browser): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
  page.setDefaultTimeout(WAIT)
  return page
}

export const screenshot = (page: Page, name: string) =>
  page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true })

/**
 * Everything that went wrong in a page: console errors, requests that failed, answers >= 400.
 * `allow(part)` excuses the problems whose URL (or console location) contains `part`, for the
 * errors a test provokes on purpose. Requests aborted by the dashboard itself (leaving a page
 * stops its refreshes) are not problems.
 */
export class PageWatch {
  readonly problems: string[] = []
  readonly #allowed: string[] = []

  constructor(page: Page) {
    page.on('console', (msg) => {
      if (msg.type() === 'error') this.#add(msg.location().url, `console: ${msg.text()}`)
    })
    page.on('pageerror', (err) => this.#add('', `page error: ${err.message}`))
    page.on('requestfailed', (req) => {
      const failure = req.failure()?.errorText ?? 'failed'
      if (failure === 'net::ERR_ABORTED') return
      this.#add(req.url(), `request failed: ${req.url()} ${failure}`)
    })
    page.on('response', (res) => {
      if (res.status() >= 400) this.#add(res.url(), `HTTP ${res.status()}: ${res.url()}`)
    })
  }

  allow(part: string): void {
    this.#allowed.push(part)
  }

  #add(url: string, problem: string): void {
    if (this.#allowed.some((part) => url.includes(part))) return
    this.problems.push(problem)
  }

  /** Asserts no problem so far and forgets the allowances. */
  assertClean(what: string): void {
    assert.deepEqual(this.problems, [], `${what}: console errors or failed requests`)
    this.#allowed.length = 0
  }
}

/** Asserts the page's visible text never shows the words null or undefined (raw API values). */
export async function assertNoRawValues(page: Page, what: string): Promise<void> {
  // biome-ignore lint/performance/useDomNodeTextContent: Playwright's innerText is the visible text, as wanted here
  const text = await page.locator('body').innerText()
  const raw = text.match(/.{0,40}\b(null|undefined|NaN|\[object Object\])\b.{0,40}/i)
  assert.equal(raw, null, `${what} shows a raw value: ${raw?.[0]}`)
}

/** Asserts the page shows no JSON dumps (<pre> blocks, or text that looks like a JSON object). */
export async function assertNoJsonDump(page: Page, what: string): Promise<void> {
  assert.equal(await page.locator('#page pre').count(), 0, `${what}: a <pre> block`)
  const text = (await page.locator('#page').textContent()) ?? ''
  assert.doesNotMatch(text, /[{[]\s*"\w+"\s*:/, `${what}: JSON in the text`)
}

/** Logs in with the admin key and waits for the shell. */
export async function logIn(page: Page, url: string, key: string): Promise<void> {
  await page.goto(`${url}/dash/`)
  await page.fill('#login-key', key)
  await page.click('#login-form button[type=submit]')
  await page.waitForSelector('#shell:not([hidden])')
}

/** Opens a page through the navigation and waits until its requests are done. */
export async function openPage(page: Page, name: string): Promise<void> {
  await page.click(`nav a[data-page=${name}]`)
  await page.waitForSelector(`nav a.active[data-page=${name}]`)
  await page.waitForLoadState('networkidle')
}
