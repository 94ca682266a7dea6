import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { startScriptNodeFlags } from '../../bench/harness.ts'

const run = promisify(execFile)
const PRELOAD = fileURLToPath(new URL('./compile-cache.mjs', import.meta.url))
const ROOT = fileURLToPath(new URL('../../', import.meta.url))

const dir = await mkdtemp(join(tmpdir(), 'compile-cache-'))
after(() => rm(dir, { recursive: true, force: true }))
// The preload in an install of its own, so its default cache (the install's
// node_modules/.cache) is the test's.
const preload = join(dir, 'src/runtime/compile-cache.mjs')
await mkdir(join(dir, 'src/runtime'), { recursive: true })
await copyFile(PRELOAD, preload)
const installCache = join(dir, 'node_modules/.cache/atproto-relay/compile')

// A program shaped like the relay: a TypeScript entry that starts a worker on a TypeScript file.
// Each thread says whether it loaded Node's type stripper (an internal module named amaro).
const stripperLoaded = 'process.moduleLoadList.some((m) => m.includes("amaro"))'
await writeFile(join(dir, 'dep.ts'), 'export const n: number = 1\n')
await writeFile(
  join(dir, 'worker.ts'),
  `import { parentPort } from 'node:worker_threads'\nimport { n } from './dep.ts'\n` +
    `parentPort!.postMessage({ n, stripper: ${stripperLoaded} })\n`,
)
await writeFile(
  join(dir, 'main.ts'),
  `import { Worker } from 'node:worker_threads'\nimport { once } from 'node:events'\n` +
    `const w = new Worker(new URL('./worker.ts', import.meta.url))\n` +
    // Both listeners first: the worker may exit in the same turn as its message arrives.
    `const exited = once(w, 'exit')\nconst [m] = await once(w, 'message')\nawait exited\n` +
    `const dir = (await import('node:module')).getCompileCacheDir() ?? null\n` +
    `console.log(JSON.stringify({ main: ${stripperLoaded}, worker: m.stripper, dir }))\n`,
)

interface Started {
  readonly main: boolean
  readonly worker: boolean
  readonly dir: string | null
}

async function start(env: Record<string, string> = {}): Promise<Started> {
  const { stdout } = await run(process.execPath, ['--import', preload, join(dir, 'main.ts')], {
    env: { PATH: process.env.PATH ?? '', ...env },
  })
  return JSON.parse(stdout) as Started
}

test('with the cache warm, no thread loads the type stripper (each thread preloads the cache)', async () => {
  // The first start strips every file, in each thread that loads it, and fills the cache: the
  // install's own, not the system's temporary directory (shared with other users).
  const first = await start()
  assert.deepEqual({ main: first.main, worker: first.worker }, { main: true, worker: true })
  assert.ok(first.dir?.startsWith(`${installCache}/`), `cache in ${first.dir}`)
  // Later starts read the stripped and compiled code back: neither thread loads the stripper.
  assert.deepEqual(await start(), { main: false, worker: false, dir: first.dir })
  assert.deepEqual(await start(), { main: false, worker: false, dir: first.dir })
  // Turned off, every thread strips again: the saving is the cache's.
  const off = await start({ NODE_DISABLE_COMPILE_CACHE: '1' })
  assert.deepEqual(off, { main: true, worker: true, dir: null })
})

test('NODE_COMPILE_CACHE names another place (the unit and the image set it)', async () => {
  const elsewhere = join(dir, 'elsewhere')
  const first = await start({ NODE_COMPILE_CACHE: elsewhere })
  assert.ok(first.dir?.startsWith(`${elsewhere}/`), `cache in ${first.dir}`)
  assert.equal((await readdir(elsewhere)).length, 1, 'one directory for this Node version')
  const again = await start({ NODE_COMPILE_CACHE: elsewhere })
  assert.deepEqual({ main: again.main, worker: again.worker }, { main: false, worker: false })
})

test('every way the relay is started preloads the compile cache', async () => {
  const read = (path: string) => readFile(join(ROOT, path), 'utf8')
  const pkg = JSON.parse(await read('package.json')) as { scripts: Record<string, string> }
  for (const script of ['start', 'relay', 'dev']) {
    assert.match(
      pkg.scripts[script]!,
      / --import \.\/src\/runtime\/compile-cache\.mjs (--watch-path=src )?src\/main\.ts\b/,
      script,
    )
  }
  assert.match(await read('relay'), /--import "\$here\/src\/runtime\/compile-cache\.mjs"/)
  const unit = await read('deploy/relay.service')
  assert.match(
    unit,
    /^ExecStart=\S+ .*--import \/opt\/atproto-relay\/src\/runtime\/compile-cache\.mjs /m,
  )
  // PrivateTmp gives each start an empty /tmp: the unit keeps the cache where systemd keeps it.
  assert.match(unit, /^CacheDirectory=atproto-relay$/m)
  assert.match(unit, /^Environment=NODE_COMPILE_CACHE=\/var\/cache\/atproto-relay$/m)
  const dockerfile = await read('Dockerfile')
  assert.match(
    dockerfile,
    /^ENTRYPOINT \[.*\\\n\s+"--import", "\/app\/src\/runtime\/compile-cache\.mjs", "\/app\/src\/main\.ts"\]$/m,
  )
  assert.match(
    dockerfile,
    /^\s+CMD \[.*"--import", "\/app\/src\/runtime\/compile-cache\.mjs", "\/app\/src\/main\.ts", "health"\]$/m,
  )
  // node_modules is read-only in the image: the cache goes to the container's /tmp.
  assert.match(dockerfile, /^\s+NODE_COMPILE_CACHE=\/tmp\/compile-cache$/m)
  // The benches start the relay from a directory of their own: the preload's path is absolute.
  const flags = await startScriptNodeFlags()
  assert.deepEqual(flags.slice(flags.indexOf('--import')), ['--import', PRELOAD])
})

test('a relay killed after start-up has still written its cache (the timed flush)', async () => {
  // A program that loads its code and then runs until killed, as a relay does.
  await writeFile(
    join(dir, 'forever.ts'),
    `import { n } from './dep.ts'\nsetInterval(() => n, 1000)\n`,
  )
  // Files only: the directory for this Node version is made when the cache is turned on.
  const entries = async (cache: string) =>
    (await readdir(cache, { recursive: true, withFileTypes: true })).filter((e) => e.isFile())
      .length
  const runKilled = async (cache: string, flushMs: string) => {
    const child = execFile(process.execPath, ['--import', preload, join(dir, 'forever.ts')], {
      env: {
        PATH: process.env.PATH ?? '',
        NODE_COMPILE_CACHE: cache,
        RELAY_COMPILE_CACHE_FLUSH_MS: flushMs,
      },
    })
    await new Promise((resolve) => setTimeout(resolve, 1500))
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGKILL')
    await exited
    return entries(cache)
  }
  // Without the flush in time, nothing is written: Node writes its entries when a thread ends.
  assert.equal(await runKilled(join(dir, 'killed-late'), '60000'), 0)
  const flushed = await runKilled(join(dir, 'killed-flushed'), '200')
  assert.ok(flushed >= 2, `${flushed} entries written before the kill (forever.ts and dep.ts)`)
})
