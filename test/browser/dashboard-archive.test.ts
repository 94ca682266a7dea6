// The dashboard over a relay in archival mode (--archive), in a real headless Chromium: the
// archive page shows the numbers of GET /admin/archive (repos mirrored, size and free space, the
// repair queue); "Compact now" asks for a confirm (a dismissed one sends nothing), calls
// POST /admin/repo/compactAll and shows the compaction to its end; the hosts page starts a real
// resync of a PDS (listRepos, one account the relay had never seen fetched with getRepo) after a
// confirm and shows its progress as GET /admin/pds/resync answers it; the account page shows a
// desynchronized account (its chain broke and its repair failed) and "Resync account" repairs
// it. A relay with archival mode off is in dashboard-pages.test.ts. Screenshots go to
// test-artifacts/dashboard/.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { Browser, Dialog, Page } from 'playwright-core'
import { type MockPlc, startMockPlc } from '../../src/identity/testing/mock-plc.ts'
import { testDidDocument } from '../support/did-doc.ts'
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
  WAIT,
} from './browser-support.ts'
import { SyncPds } from './sync-pds.ts'

const ALICE = 'did:plc:alicealicealicealicealic'
const BOB = 'did:plc:bobbobbobbobbobbobbobbob'
/** On the PDS, never announced on its firehose: only a resync brings it to the relay. */
const CAROL = 'did:plc:carolcarolcarolcarolcaro'

interface ArchiveStatus {
  archive: { enabled: boolean; repos: number; storageBytes: number; freeBytes: number }
  compaction: { status: string; reposDone: number; blocksRemoved: number } | null
  repairs: Record<'queued' | 'running' | 'repaired' | 'failed' | 'overflow', number>
}
interface ResyncProgress {
  pds: string
  numRepos: number
  numReposChecked: number
  numReposToResync: number
  numReposResynced: number
  status: string
}

describe('dashboard in archival mode, in Chromium', () => {
  let plc: MockPlc
  let relay: TestRelay
  let pds: SyncPds
  let browser: Browser
  let page: Page
  let watch: PageWatch
  const requests: { method: string; path: string }[] = []
  const repos = new Map<string, TestRepo>()
  let seq = 0

  const adminGet = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${relay.url}${path}`, {
      headers: { authorization: `Bearer ${ADMIN_KEY}` },
    })
    assert.equal(res.status, 200, path)
    return (await res.json()) as T
  }
  const archive = () => adminGet<ArchiveStatus>('/admin/archive')
  const accountStatus = (did: string) =>
    adminGet<{ localStatus: string; rev: string }>(`/admin/repo/status?did=${did}`)
  /** Makes a commit in the repo; `emit` false keeps it off the firehose (a gap in the chain). */
  const commit = async (did: string, rkey: string, emit = true) => {
    const msg = await repos
      .get(did)!
      .commit([{ action: 'create', path: `app.bsky.feed.post/${rkey}` }], { seq: ++seq })
    if (!emit) return
    pds.emit(seq, messageFrame(msg))
    const id = relay.relay.hosts.byHostname(pds.hostname)!.id
    await eventually(() => relay.relay.hosts.connection(id)?.cursor === seq, 10_000, `seq ${seq}`)
  }
  const field = (scope: string, name: string) => page.locator(`${scope} [data-field="${name}"]`)
  const text = async (scope: string, name: string) => (await field(scope, name).textContent()) ?? ''
  const content = async (selector: string) => (await page.locator(selector).textContent()) ?? ''
  const posts = (path: string) =>
    requests.filter((r) => r.method === 'POST' && r.path === path).length
  /** Answers the next confirm dialog; resolves to its message (fails if none comes). */
  const nextConfirm = (accept: boolean) =>
    new Promise<string>((resolve, reject) => {
      const answer = (d: Dialog) => {
        clearTimeout(none)
        resolve(d.message())
        void (accept ? d.accept() : d.dismiss())
      }
      const none = setTimeout(() => {
        page.off('dialog', answer)
        reject(new Error('no confirm dialog was shown'))
      }, WAIT)
      page.once('dialog', answer)
    })

  before(async () => {
    plc = await startMockPlc({})
    pds = await SyncPds.start()
    relay = await startTestRelay({ plcUrl: plc.url, flags: ['--archive'] })
    for (const did of [ALICE, BOB, CAROL]) {
      const repo = new TestRepo(did, generateKeypair('k256'))
      repos.set(did, repo)
      pds.repos.set(did, repo)
      plc.setDocument(
        did,
        testDidDocument(did, pds.url, {
          handle: `${did.slice(8, 13)}.test`,
          publicKeyMultibase: repo.keypair.publicKeyMultibase,
        }),
      )
    }
    assert.equal((await relay.crawl(pds.hostname)).status, 200)
    await eventually(() => pds.subscriberCount === 1, 10_000, 'subscribed')
    for (const did of [ALICE, BOB]) {
      await commit(did, '3laaaaaaaaaaa')
      await commit(did, '3lbbbbbbbbbbb')
    }
    await commit(CAROL, '3laaaaaaaaaaa', false)
    await eventually(async () => (await archive()).archive.repos === 2, 10_000, 'two mirrored')
    browser = await launchChromium()
    page = await newPage(browser)
    watch = new PageWatch(page)
    page.on('request', (req) =>
      requests.push({ method: req.method(), path: new URL(req.url()).pathname }),
    )
    await logIn(page, relay.url, ADMIN_KEY)
  })
  after(async () => {
    await browser?.close()
    await relay?.close()
    await pds?.close()
    await plc?.close()
  })

  test('archive page: archival mode on, with the numbers of GET /admin/archive', async () => {
    await openPage(page, 'archive')
    await field('#archive-mode', 'repos').waitFor()
    const s = await archive()
    assert.equal(s.archive.enabled, true)
    assert.equal(await text('#archive-mode', 'mode'), 'on')
    assert.equal(await text('#archive-mode', 'repos'), '2')
    assert.ok(s.archive.storageBytes > 0)
    assert.equal(
      await field('#archive-mode', 'storage').locator('span').getAttribute('title'),
      `${s.archive.storageBytes} bytes`,
    )
    assert.match(await text('#archive-mode', 'storage'), /^\d+(\.\d)? (B|KiB|MiB)$/)
    assert.equal(
      await field('#archive-mode', 'free').locator('span').getAttribute('title'),
      `${s.archive.freeBytes} bytes`,
    )
    for (const k of ['queued', 'running', 'repaired', 'failed', 'overflow'] as const)
      assert.equal(await text('#repairs', k), String(s.repairs[k]), `repairs ${k}`)
    assert.equal(s.compaction?.status, 'idle')
    assert.match(await text('#compaction', 'status'), /No compaction has run/)
    assert.equal(await page.locator('#compaction').isVisible(), true)
    assert.equal(await page.locator('button[data-action="compact"]').isEnabled(), true)
    assert.match(await content('#resyncs'), /No host has been resynced/)
    await assertNoRawValues(page, 'archive (on)')
    await assertNoJsonDump(page, 'archive (on)')
    await screenshot(page, '30-archive-on')
  })

  test('archive page: "Compact now" asks first, then shows the compaction to its end', async () => {
    await openPage(page, 'archive')
    const button = page.locator('button[data-action="compact"]')
    // Dismissed: nothing is asked of the relay.
    const dismissed = nextConfirm(false)
    await button.click()
    assert.match(await dismissed, /^Compact the archive now\?/)
    const accepted = nextConfirm(true)
    const posted = page.waitForRequest(
      (r) => r.method() === 'POST' && new URL(r.url()).pathname === '/admin/repo/compactAll',
    )
    await button.click()
    await accepted
    await posted
    await field('#compaction', 'status')
      .filter({ hasText: /^Finished$/ })
      .waitFor()
    // Only the accepted click reached the relay.
    assert.equal(posts('/admin/repo/compactAll'), 1)
    const c = (
      await adminGet<{ compaction: ArchiveStatus['compaction'] }>('/admin/repo/compactAll')
    ).compaction!
    assert.equal(c.status, 'done')
    assert.equal(c.reposDone, 2)
    assert.equal(await text('#compaction', 'repos-done'), '2')
    assert.equal(await text('#compaction', 'blocks-removed'), String(c.blocksRemoved))
    assert.match(await text('#compaction', 'finished'), / after /)
    assert.equal(await text('#compaction', 'last-error'), 'none')
    assert.match(await content('#flash.good'), /^Compaction: done$/)
    assert.equal(await button.isEnabled(), true)
    await assertNoRawValues(page, 'archive (compacted)')
    await screenshot(page, '31-archive-compacted')
  })

  test('hosts: a resync starts after a confirm and shows its progress from the relay', async () => {
    await openPage(page, 'hosts')
    const row = `tr[data-host="${pds.hostname}"]`
    await page.waitForSelector(row)
    assert.equal(await page.locator(`${row} [data-resync]`).count(), 0, 'no resync has run')
    const confirmed = nextConfirm(true)
    await page.click(`${row} button[data-action="resync"]`)
    assert.match(await confirmed, new RegExp(`^Resync ${pds.hostname}\\?`))
    await field(row, 'resync-status')
      .filter({ hasText: /^done$/ })
      .waitFor()
    const p = (await adminGet<{ resync: ResyncProgress }>(`/admin/pds/resync?host=${pds.hostname}`))
      .resync
    // Three repos listed; Carol, never seen on the firehose, was fetched and taken in.
    assert.deepEqual(
      [p.status, p.numRepos, p.numReposChecked, p.numReposToResync, p.numReposResynced],
      ['done', 3, 3, 1, 1],
    )
    const bar = field(row, 'resync-bar')
    assert.equal(await bar.getAttribute('value'), String(p.numReposChecked))
    assert.equal(await bar.getAttribute('max'), String(p.numRepos))
    assert.equal(
      await text(row, 'resync-counts'),
      '3 of 3 repos checked · 1 of 1 differing resynced',
    )
    assert.match(await text(row, 'resync-when'), /^finished .+ ago$/)
    assert.equal(await field(row, 'resync-error').count(), 0)
    assert.equal(posts('/admin/pds/resync'), 1)
    assert.equal((await accountStatus(CAROL)).rev, repos.get(CAROL)!.rev)
    await assertNoRawValues(page, 'hosts (resynced)')
    await screenshot(page, '32-hosts-resynced')
    // The archive page lists it too, and now mirrors Carol's repo.
    await openPage(page, 'archive')
    await page.locator(`#resyncs [data-resync="${pds.hostname}"]`).waitFor()
    assert.equal(await text('#resyncs', 'resync-status'), 'done')
    assert.equal(await text('#archive-mode', 'repos'), '3')
  })

  test('account: a desynchronized account is said so; "Resync account" repairs it', async () => {
    // A commit Bob's PDS never announced: the next one names blocks the mirror never saw, so the
    // account is desynchronized; its repair fails while getRepo does.
    pds.getRepoFails = true
    const failedBefore = (await archive()).repairs.failed
    await commit(BOB, '3lccccccccccc', false)
    await commit(BOB, '3lddddddddddd')
    await eventually(
      async () =>
        (await accountStatus(BOB)).localStatus === 'desynchronized' &&
        (await archive()).repairs.failed > failedBefore,
      10_000,
      'Bob desynchronized, its repair failed',
    )
    await openPage(page, 'account')
    await page.fill('input[name=did]', BOB)
    await page.click('form:has(input[name=did]) button[type=submit]')
    await page.waitForSelector(`[data-account="${BOB}"]`)
    assert.match(
      await content('.verdict'),
      /^Flowing, but desynchronized: this relay’s copy of the repo is behind/,
    )
    assert.equal(await page.locator('.verdict.warn').count(), 1)
    assert.equal(await text('#page', 'status'), 'active (desynchronized)')
    assert.equal(await text('#page', 'local-status'), 'desynchronized')
    await assertNoRawValues(page, 'account (desynchronized)')
    await screenshot(page, '33-account-desynchronized')

    pds.getRepoFails = false
    await page.click('button:has-text("Resync account")')
    await page.waitForSelector('#account-resync')
    assert.match(await text('#account-resync', 'result'), /^synced: /)
    assert.equal(await text('#account-resync', 'rev'), repos.get(BOB)!.rev)
    assert.equal(await text('#account-resync', 'records'), '4')
    assert.match(await content('.verdict'), /^Flowing: /)
    assert.equal(await text('#page', 'local-status'), 'active')
    assert.equal(await text('#page', 'status'), 'active')
    assert.equal((await accountStatus(BOB)).localStatus, 'active')
    assert.match(await content('#flash.good'), /^Resync did:plc:bob.+: done$/)
    await assertNoRawValues(page, 'account (resynced)')
    await assertNoJsonDump(page, 'account (resynced)')
    await screenshot(page, '34-account-resynced')
  })

  test('no console errors, no failed requests', () => {
    watch.assertClean('the archival mode session')
  })
})
