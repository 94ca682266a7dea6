// Path traversal under `/dash/` (the dashboard's static files, served without authentication):
// dot segments raw, percent-encoded, double-encoded and in overlong UTF-8, backslashes, NUL bytes,
// absolute paths, doubled slashes, query and fragment tricks and very long paths, sent byte for
// byte over a socket (fetch and URL parsers would normalise `..` away before the relay saw it),
// never answer with a file outside the dashboard's public folder: the answer is 400, 403 or 404,
// or one of the dashboard's own files, and never carries the contents of package.json, the
// relay's sources, its data directory or /etc/passwd. The dashboard's real files are served, as
// the control that the paths reach the handler at all.
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { connect } from 'node:net'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { type MockPlc, startMockPlc } from '../../src/identity/testing/mock-plc.ts'
import { startTestRelay, type TestRelay } from '../support/relay-harness.ts'

const ROOT = join(import.meta.dirname, '..', '..')
const PUBLIC = join(ROOT, 'src', 'dashboard', 'public')

/** Lines of files outside public/ that a traversal would most likely reach. */
const SECRETS: readonly { what: string; marker: string }[] = [
  { what: 'package.json', marker: '"devDependencies"' },
  {
    what: 'package.json',
    marker: JSON.stringify(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).name),
  },
  { what: 'serve.ts', marker: 'dashboardHandler' },
  { what: '/etc/passwd', marker: 'root:x:0:0' },
  { what: '/etc/passwd', marker: '/bin/sh' },
  { what: 'an SQLite file', marker: 'SQLite format 3' },
  { what: 'the relay admin key', marker: 'test-admin-key' },
]

interface RawAnswer {
  status: number
  head: string
  body: string
}

/** Sends one request line as given (nothing normalised or escaped) and reads the whole answer. */
function rawGet(port: number, target: string): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    const chunks: Buffer[] = []
    socket.on('data', (c: Buffer) => chunks.push(c))
    socket.on('error', reject)
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1')
      const split = text.indexOf('\r\n\r\n')
      const head = split === -1 ? text : text.slice(0, split)
      const m = /^HTTP\/1\.1 (\d{3})/.exec(head)
      const rest = split === -1 ? '' : text.slice(split + 4)
      const chunked = /\r\ntransfer-encoding: chunked/i.test(head)
      resolve({ status: m ? Number(m[1]) : 0, head, body: chunked ? dechunk(rest) : rest })
    })
    socket.write(
      Buffer.concat([
        Buffer.from('GET ', 'latin1'),
        Buffer.from(target, 'utf8'),
        Buffer.from(' HTTP/1.1\r\nHost: relay.test\r\nConnection: close\r\n\r\n', 'latin1'),
      ]),
    )
  })
}

/** The body of a chunked answer (the relay's text answers are sent so). */
function dechunk(text: string): string {
  let out = ''
  let at = 0
  for (;;) {
    const eol = text.indexOf('\r\n', at)
    if (eol === -1) return out
    const size = Number.parseInt(text.slice(at, eol), 16)
    if (!(size > 0)) return out
    out += text.slice(eol + 2, eol + 2 + size)
    at = eol + 2 + size + 2
  }
}

/** Request targets trying to leave /dash/. */
const TRAVERSALS: readonly string[] = [
  '/dash/../package.json',
  '/dash/../../package.json',
  '/dash/../../../../../../etc/passwd',
  '/dash/./../package.json',
  '/dash/%2e%2e/package.json',
  '/dash/%2e%2e%2fpackage.json',
  '/dash/%2E%2E%2F%2E%2E%2Fpackage.json',
  '/dash/..%2fpackage.json',
  '/dash/.%2e/.%2e/package.json',
  '/dash/%252e%252e%252fpackage.json',
  '/dash/%25252e%25252e/package.json',
  '/dash/..\\package.json',
  '/dash/..%5cpackage.json',
  '/dash/..%5c..%5cpackage.json',
  '/dash/%2e%2e%5cpackage.json',
  '/dash/..%255cpackage.json',
  '/dash/..%00/package.json',
  '/dash/index.html%00.js',
  '/dash/../package.json%00.html',
  '/dash/%c0%ae%c0%ae/package.json',
  '/dash/%c0%ae%c0%ae%c0%afpackage.json',
  '/dash/%e0%80%ae%e0%80%ae/package.json',
  '/dash/%uff0e%uff0e/package.json',
  '/dash/\uff0e\uff0e/package.json',
  '/dash//etc/passwd',
  '/dash///etc/passwd',
  '/dash/%2fetc%2fpasswd',
  '/dash/file:///etc/passwd',
  '/dash/C:\\Windows\\win.ini',
  '/dash/..;/package.json',
  '/dash/....//package.json',
  '/dash/.../package.json',
  '/dash/...',
  '/dash/..',
  '/dash/.',
  '/dash/%2e',
  '/dash/index.html/../../package.json',
  '/dash/index.html/..%2f..%2fpackage.json',
  '/dash/../src/dashboard/serve.ts',
  '/dash/../src/dashboard/public/../serve.ts',
  '/dash/%2e%2e/%2e%2e/src/dashboard/serve.ts',
  '/dash/..%2f..%2f..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd',
  '/dash/?/../../package.json',
  '/dash/?file=../package.json',
  '/dash/#/../package.json',
  '/dash/index.html?../../package.json',
  `/dash/${'../'.repeat(200)}etc/passwd`,
  `/dash/${'%2e%2e%2f'.repeat(200)}etc/passwd`,
  `/dash/${'a/'.repeat(2000)}../package.json`,
  `/dash/${'x'.repeat(8000)}`,
  '/dash\\..\\package.json',
  '/dash%2f..%2fpackage.json',
  '/DASH/../package.json',
  '/%2e%2e/package.json',
  '/../package.json',
  '/dash/../relay.sqlite',
  '/dash/../persist/LOCK',
  'http://relay.test/dash/../package.json',
  '*/dash/../package.json',
]

describe('/dash/ path traversal', () => {
  let plc: MockPlc
  let relay: TestRelay
  let port: number
  let dashFiles: Map<string, string>
  before(async () => {
    plc = await startMockPlc({})
    relay = await startTestRelay({ plcUrl: plc.url, overrides: { metrics: false } })
    port = relay.relay.address().port
    dashFiles = new Map(
      readdirSync(PUBLIC).map((f) => [f, readFileSync(join(PUBLIC, f)).toString('latin1')]),
    )
  })
  after(async () => {
    await relay.close()
    await plc.close()
  })

  test('the dashboard itself is served (the control)', async () => {
    for (const [target, file] of [
      ['/dash/', 'index.html'],
      ['/dash/app.js', 'app.js'],
      ['/dash/style.css', 'style.css'],
      ['/dash/index.html?x=1', 'index.html'],
    ] as const) {
      const a = await rawGet(port, target)
      assert.equal(a.status, 200, target)
      assert.equal(a.body, dashFiles.get(file), target)
    }
  })

  test(`${TRAVERSALS.length} traversal paths: 400, 403 or 404, or a dashboard file; nothing else`, async () => {
    assert.ok(TRAVERSALS.length >= 27)
    const statuses = new Map<number, number>()
    for (const target of TRAVERSALS) {
      const a = await rawGet(port, target)
      statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1)
      const what = `${target.slice(0, 120)} → HTTP ${a.status}`
      for (const s of SECRETS)
        assert.ok(!a.body.includes(s.marker), `${what}: the answer carries ${s.what}`)
      if (a.status === 200) {
        // Only a dashboard file, byte for byte, or, where the dot segments lead out of /dash/
        // to the relay's root (`/dash/..` is `/`), the relay's public banner.
        assert.ok(
          [...dashFiles.values()].includes(a.body) || a.body.startsWith('This is an atproto relay'),
          `${what}: 200 with something that is neither a dashboard file nor the banner`,
        )
      } else if (a.status === 301) {
        assert.match(a.head, /\r\nLocation: \/dash\/\r\n/i, what)
      } else {
        assert.ok([400, 403, 404, 405, 414, 431].includes(a.status), what)
      }
    }
    // Most are refused outright; a few (`/dash/..` is `/`) are the relay's other public pages.
    assert.ok((statuses.get(404) ?? 0) + (statuses.get(400) ?? 0) > TRAVERSALS.length / 2)
  })

  test('HEAD, and methods other than GET, reach no file either', async () => {
    for (const method of ['HEAD', 'POST', 'PUT', 'OPTIONS']) {
      const a = await new Promise<RawAnswer>((resolve, reject) => {
        const socket = connect(port, '127.0.0.1')
        const chunks: Buffer[] = []
        socket.on('data', (c: Buffer) => chunks.push(c))
        socket.on('error', reject)
        socket.on('close', () => {
          const text = Buffer.concat(chunks).toString('latin1')
          const m = /^HTTP\/1\.1 (\d{3})/.exec(text)
          resolve({ status: m ? Number(m[1]) : 0, head: text, body: text })
        })
        socket.write(
          `${method} /dash/../package.json HTTP/1.1\r\nHost: relay.test\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`,
        )
      })
      for (const s of SECRETS) assert.ok(!a.body.includes(s.marker), `${method}: ${s.what}`)
      assert.ok(a.status >= 400, `${method}: HTTP ${a.status}`)
    }
  })
})
