// What a new operator meets in the first hour, checked against the files they read and run: the
// README names the Server header the relay sends; install output is quiet and says once which
// Node the project brings; the container image carries one Node runtime and its health check
// follows the bind address; the deployment guide works without sudo.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { promisify } from 'node:util'
import { SERVER_HEADER } from '../../src/config/config.ts'

const ROOT = join(import.meta.dirname, '../..')
const read = (path: string) => readFile(join(ROOT, path), 'utf8')
const run = promisify(execFile)

test('the README names the Server header the relay sends', async () => {
  assert.ok((await read('README.md')).includes(`\`Server: ${SERVER_HEADER}\``))
})

test('install output: npm warnings off, and one line saying which Node runs the relay', async () => {
  assert.match(await read('.npmrc'), /^loglevel=error$/m)
  const { stdout } = await run(join(ROOT, 'node_modules/.bin/node'), ['scripts/postinstall.mjs'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      npm_execpath: 'npm',
      npm_config_user_agent: 'npm/11.0.0 node/v20.20.2 linux x64',
    },
  })
  const lines = stdout.trim().split('\n')
  assert.equal(lines.length, 1, stdout)
  assert.match(lines[0]!, /runs on Node 24\.\d+\.\d+ .*here 20\.20\.2, which only runs npm/)
})

test('the image: Node only in the build stage, and a health check that asks the bound address', async () => {
  const dockerfile = await read('Dockerfile')
  const stages = [...dockerfile.matchAll(/^FROM (\S+)(?: AS (\S+))?$/gm)]
  assert.equal(stages.length, 2)
  assert.equal(stages[0]![2], 'deps', 'the Node image only builds the dependencies')
  assert.match(dockerfile, /^ARG NODE_IMAGE=node:24/m)
  assert.match(stages[1]![1]!, /^\$\{BASE_IMAGE\}$/, 'the final stage is the plain base image')
  assert.match(dockerfile, /^ARG BASE_IMAGE=debian:\S+-slim$/m)
  assert.match(dockerfile, /^HEALTHCHECK .*\n\s+CMD \[.*"\/app\/src\/main\.ts", "health"\]$/m)
  // jemalloc is installed in the final stage and preloaded from the path the image links.
  const final = dockerfile.slice(stages[1]!.index)
  assert.match(final, /apt-get install -y --no-install-recommends libjemalloc2/)
  const preload = /LD_PRELOAD=(\S+)/.exec(final)?.[1]
  assert.ok(
    preload && final.includes(`ln -s `) && final.includes(preload),
    'preloads what it links',
  )
  // Everything the final stage copies from the build context passes .dockerignore.
  const allowed = (await read('.dockerignore')).split('\n').filter((l) => l.startsWith('!'))
  for (const m of dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)) {
    for (const path of m[1]!.split(' ')) {
      assert.ok(allowed.includes(`!${path}`), `${path} is sent to the builder`)
    }
  }
})

test('the deployment guide needs no sudo', async () => {
  const guide = await read('deploy/README.md')
  const commands = [...guide.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!).join('\n')
  assert.doesNotMatch(commands, /^\s*sudo(edit)?\b/m)
  assert.doesNotMatch(await read('deploy/postgres-setup.sh'), /sudo /)
})
