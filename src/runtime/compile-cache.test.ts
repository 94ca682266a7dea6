import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
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
    `const [m] = await once(w, 'message')\nawait once(w, 'exit')\n` +
    `console.log(JSON.stringify({ main: ${stripperLoaded}, worker: m.stripper }))\n`,
)

async function start(
  env: Record<string, string> = {},
): Promise<{ main: boolean; worker: boolean }> {
  const { stdout } = await run(process.execPath, ['--import', PRELOAD, join(dir, 'main.ts')], {
    // The preload's default place (Node's: the temporary directory), here the test's own. Not
    // NODE_COMPILE_CACHE: that alone turns the cache on, with or without the preload.
    env: { PATH: process.env.PATH ?? '', TMPDIR: dir, ...env },
  })
  return JSON.parse(stdout) as { main: boolean; worker: boolean }
}

test('with the cache warm, no thread loads the type stripper (each thread preloads the cache)', async () => {
  // The first start strips every file, in each thread that loads it, and fills the cache.
  assert.deepEqual(await start(), { main: true, worker: true })
  // Later starts read the stripped and compiled code back: neither thread loads the stripper.
  assert.deepEqual(await start(), { main: false, worker: false })
  assert.deepEqual(await start(), { main: false, worker: false })
  // Turned off, every thread strips again: the saving is the cache's.
  assert.deepEqual(await start({ NODE_DISABLE_COMPILE_CACHE: '1' }), { main: true, worker: true })
})

test('every way the relay is started preloads the compile cache', async () => {
  const read = (path: string) => readFile(join(ROOT, path), 'utf8')
  const pkg = JSON.parse(await read('package.json')) as { scripts: Record<string, string> }
  assert.match(pkg.scripts.start!, / --import \.\/src\/runtime\/compile-cache\.mjs src\/main\.ts /)
  assert.match(await read('relay'), /--import "\$here\/src\/runtime\/compile-cache\.mjs"/)
  const unit = await read('deploy/relay.service')
  assert.match(
    unit,
    /^ExecStart=\S+ .*--import \/opt\/atproto-relay\/src\/runtime\/compile-cache\.mjs /m,
  )
  // PrivateTmp gives each start an empty /tmp: the unit keeps the cache where systemd keeps it.
  assert.match(unit, /^CacheDirectory=atproto-relay$/m)
  assert.match(unit, /^Environment=NODE_COMPILE_CACHE=\/var\/cache\/atproto-relay$/m)
  assert.match(
    await read('Dockerfile'),
    /^ENTRYPOINT \[.*\\\n\s+"--import", "\/app\/src\/runtime\/compile-cache\.mjs", "\/app\/src\/main\.ts"\]$/m,
  )
  // The benches start the relay from a directory of their own: the preload's path is absolute.
  const flags = await startScriptNodeFlags()
  assert.deepEqual(flags.slice(flags.indexOf('--import')), ['--import', PRELOAD])
})
